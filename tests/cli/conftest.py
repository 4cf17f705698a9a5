"""Fixtures of the command-line tests (helpers in _zipw_cli.py)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from _zipw_cli import small_st  # noqa: E402


@pytest.fixture
def st_file(tmp_path):
    """A small safetensors file, `m.safetensors`, in a folder of its own."""
    p = tmp_path / "m.safetensors"
    p.write_bytes(small_st())
    return p
