"""scap: events in.  Capture files (read and write), the event schema, live sources.

    import scap
    with scap.open("trace.scap") as cap:      # plain or gzip; path, file object or bytes
        cap.machine, cap.processes, cap.interfaces, cap.users, cap.groups
        for rec in cap:                       # scap.EventRecord, in file order
            ...

See docs/ARCHITECTURE.md for the contract.  `import scap` imports nothing above it.
"""
from __future__ import annotations

from typing import Any

from scap.errors import FormatError, NativeError, ScapError
from scap.metadata import (
    FdEntry,
    FdType,
    GroupInfo,
    InterfaceInfo,
    MachineInfo,
    ProcInfo,
    UserInfo,
)
from scap.record import EventRecord
from scap.savefile.reader import Capture
from scap.savefile.reader import open_capture as open  # scap.open is the API
from scap.savefile.writer import Writer

__all__ = [
    "Capture",
    "EventRecord",
    "FdEntry",
    "FdType",
    "FormatError",
    "GroupInfo",
    "InterfaceInfo",
    "MachineInfo",
    "NativeError",
    "ProcInfo",
    "ScapError",
    "SockAddr",
    "SockTuple",
    "UserInfo",
    "Writer",
    "open",
]

# Names that live in modules written alongside this one (the parameter decoders); resolved on
# first use so that `import scap` stays cheap.
_LAZY = {"SockAddr": "scap.params", "SockTuple": "scap.params"}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'scap' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
