# The C kernels live in csrc/; setuptools' pyproject tables cannot yet declare
# extension modules without an experimental flag, so they are declared here.
import glob
import sys

from setuptools import Extension, setup

extra = ["-O3", "-std=c11"] if sys.platform != "win32" else ["/O2"]

setup(
    ext_modules=[
        Extension(
            "zipweights._kernels",
            sources=sorted(glob.glob("csrc/*.c")),
            include_dirs=["csrc"],
            extra_compile_args=extra,
        )
    ]
)
