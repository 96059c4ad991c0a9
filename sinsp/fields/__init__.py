"""Field classes, one module per class family; importing a module registers its classes in
``registry.REGISTRIES`` under their source (``"syscall"``, ``"k8s_audit"``).

Importing this package stays cheap (the filter compiler imports ``sinsp.fields.registry``);
``load_all()`` imports every field module, and ``REGISTRY`` (the syscall registry, fully
populated) is resolved on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from sinsp.fields.registry import REGISTRIES, FieldRegistry

__all__ = ["REGISTRIES", "REGISTRY", "list_fields", "load_all"]

_loaded = False


def load_all() -> dict[str, FieldRegistry]:
    """Import every field module of this package (registering its classes); the registries."""
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True
    return REGISTRIES


def list_fields(source: str = "syscall") -> Any:
    """The field listing of one source (name, type, description), for ``--list``."""
    return load_all()[source].list_fields()


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return load_all()["syscall"]
    raise AttributeError(name)
