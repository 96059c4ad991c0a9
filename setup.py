"""Registers the cffi extension (scap._scap_native); everything else is in pyproject.toml."""
import os

from setuptools import setup

_build = os.path.join("scap", "_cffi_src", "build_scap.py")
setup(cffi_modules=[_build + ":ffibuilder"] if os.path.exists(_build) else [])
