"""Registers the cffi extensions (one build module per native part in scap/_cffi_src/build_*.py
and sinsp/_cffi_src/build_*.py, each defining `ffibuilder`); everything else is in
pyproject.toml."""
import glob

from setuptools import setup

_BUILDERS = sorted(glob.glob("scap/_cffi_src/build_*.py")) + sorted(
    glob.glob("sinsp/_cffi_src/build_*.py"))

setup(cffi_modules=[f"{p}:ffibuilder" for p in _BUILDERS])
