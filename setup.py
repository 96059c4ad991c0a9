"""Registers the cffi extensions (one build module per native part in scap/_cffi_src/build_*.py,
each defining `ffibuilder`); everything else is in pyproject.toml."""
import glob

from setuptools import setup

setup(cffi_modules=[f"{p}:ffibuilder" for p in sorted(glob.glob("scap/_cffi_src/build_*.py"))])
