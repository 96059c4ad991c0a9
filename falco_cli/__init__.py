"""The ``pyfalco`` command: a drop-in for Falco (flags, falco.yaml, outputs, signals)."""
from importlib import metadata as _md

try:
    __version__ = _md.version("pyfalco")
except _md.PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"

__all__ = ["__version__"]
