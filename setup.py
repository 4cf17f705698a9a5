# The C kernels live in csrc/; setuptools' pyproject tables cannot yet declare
# extension modules without an experimental flag, so they are declared here.
#
# The extension is optional: where no compiler (or no Python headers) is found the
# build warns and goes on, and zipweights runs the Numba kernels instead (the same bytes;
# zipweights/_kernels.py picks the backend at import).
import glob
import sys

from setuptools import Extension, setup

extra = ["-O3", "-std=c11"] if sys.platform != "win32" else ["/O2"]

setup(
    ext_modules=[
        Extension(
            "zipweights._ckernels",
            sources=sorted(glob.glob("csrc/*.c")),
            include_dirs=["csrc"],
            extra_compile_args=extra,
            optional=True,
        )
    ]
)
