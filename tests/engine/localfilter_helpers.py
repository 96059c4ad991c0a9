"""Test helpers for ``engine.localfilter``: a reference evaluator of ``sinsp.localpred`` trees
on real ``Event``s, the candidate-record test, and live-layout open/close exit records.

The evaluator decides each ``Pred`` by compiling it back into the filter check it stands for
(``field op value``) and running that with ``sinsp.filter`` on the event, so a tree is judged
with the very semantics (N/A, pmatch, glob, numbers) the full rule evaluation uses; and/or/not
follow Kleene's three-valued logic as ``sinsp.localpred`` documents.

Also what the localfilter test modules share: where the captures and rules are, the open
flag sets records are generated with, and one inspector holding syscall.scap's processes.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import scap
from scap.testing import EventBuilder
from sinsp import Inspector
from sinsp import localpred as lp
from sinsp.filter import ast, compile_filter
from sinsp.localpred import Tri

PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR, PPM_O_CREAT = 1, 2, 3, 4
PPM_O_APPEND, PPM_O_TRUNC, PPM_O_DIRECTORY = 8, 256, 1024

#: open-family exits carrying the path (open, creat, openat in the 2nd layout, openat2) and
#: the index of their ``name`` param
NAME_PARAM = {3: 1, 59: 1, 307: 2, 327: 2}
CLOSE_X = 5
HOT_TYPES = (3, 5, 59, 103, 307, 327)
OPEN_TYPES = (3, 59, 307, 327)

ROOT = Path(__file__).resolve().parents[2]
TRACES = Path("/work/shared/traces/syscalls")
UPSTREAM = os.environ.get("PYFALCO_UPSTREAM_RULES")
needs_traces = pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not available")

#: the open flags generated records carry: plain reads and writes, truncating and creating
#: writes, O_DIRECTORY, appends, and none
FLAG_SETS = [
    PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR, PPM_O_WRONLY | PPM_O_TRUNC,
    PPM_O_WRONLY | PPM_O_CREAT, PPM_O_WRONLY | PPM_O_CREAT | PPM_O_TRUNC,
    PPM_O_RDONLY | PPM_O_DIRECTORY, PPM_O_RDWR | PPM_O_APPEND, 0,
]  # fmt: skip

_CHECKS: dict[lp.Pred, Callable[[Any], bool]] = {}


@functools.cache
def registry() -> Any:
    """The syscall field registry rules are compiled against."""
    from engine import RuleEngine

    return RuleEngine().registries["syscall"]


@functools.cache
def syscall_world() -> tuple[Inspector, tuple[int, ...]]:
    """An inspector holding syscall.scap's processes, and the tids of their main threads
    (generated records are processed by it as if those processes made them)."""
    src = TRACES / "syscall.scap"
    with scap.open(src) as cap:
        tids = tuple(p.tid for p in cap.processes if p.tid == p.pid)
    insp = Inspector(scap.open(src))
    for _ in insp:
        pass
    return insp, tids


def _text(v: str | int | bool) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _check(p: lp.Pred) -> Callable[[Any], bool]:
    got = _CHECKS.get(p)
    if got is None:
        if p.op in ("in", "pmatch"):
            rhs: ast.Value | ast.ListValue = ast.ListValue(
                tuple(ast.Value(_text(v), True) for v in p.values))
        else:
            (v,) = p.values
            rhs = ast.Value(_text(v), True)
        flt = compile_filter(ast.Compare(ast.FieldRef(p.field), p.op, rhs), registry())
        got = _CHECKS[p] = flt.matches
    return got


def evaluate(node: lp.Node, evt: Any) -> Tri:
    """``node`` on ``evt`` in Kleene logic; each Pred is its filter check run on the event."""
    return lp.kleene(node, lambda p: Tri.TRUE if _check(p)(evt) else Tri.FALSE)


def _cstr(raw: bytes) -> bytes:
    return raw[:-1] if raw.endswith(b"\0") else raw


def is_normal_path(path: bytes) -> bool:
    """Absolute, already normal, printable ASCII: what ``localpred`` calls a candidate path."""
    if not path.startswith(b"/") or any(c < 0x20 or c > 0x7E for c in path):
        return False
    if path == b"/" or path.endswith((b"/", b"/.", b"/..")):
        return False
    return not any(s in path for s in (b"//", b"/./", b"/../"))


def is_candidate(evt: Any) -> bool:
    """Whether the hot path may absorb this record (``sinsp.localpred``'s definition)."""
    rec = evt.record
    t = rec.type
    if t == CLOSE_X:
        return True
    i = NAME_PARAM.get(t)
    if i is None or rec.nparams <= i:
        return False
    raw_fd = rec.rawparam(0)
    if len(raw_fd) != 8 or struct.unpack("<q", raw_fd)[0] < 0:
        return False
    return is_normal_path(_cstr(bytes(rec.rawparam(i))))


def open_exit(b: EventBuilder, etype: int, tid: int, fd: int, path: str, flags: int,
              mode: int = 0, ino: int = 1) -> Any:
    """An open-family exit in the live (current libs) layout, as the probe delivers it."""
    ino_b = struct.pack("<Q", ino)
    if etype == 307:
        return b.build("SYSCALL_OPENAT_2_X", [fd, -100, path, flags, mode, 2049, ino_b], tid=tid)
    if etype == 327:
        dev = struct.pack("<I", 2049)
        return b.build("SYSCALL_OPENAT2_X", [fd, -100, path, flags, mode, 0, dev, ino_b],
                       tid=tid)
    if etype == 3:
        return b.build("SYSCALL_OPEN_X", [fd, path, flags, mode, 2049, ino_b], tid=tid)
    if etype == 59:
        return b.build("SYSCALL_CREAT_X", [fd, path, mode, 2049, ino_b], tid=tid)
    raise ValueError(etype)


def close_exit(b: EventBuilder, tid: int, fd: int, res: int = 0) -> Any:
    return b.build("SYSCALL_CLOSE_X", [res, struct.pack("<q", fd)], tid=tid)


def _int_param(rec: Any, i: int, signed: bool = True) -> int:
    raw = bytes(rec.rawparam(i))
    return int.from_bytes(raw, "little", signed=signed) if raw else 0


#: (flags, mode) param indexes of the open-family exits (creat has no flags)
_FLAGS_MODE = {3: (2, 3), 307: (3, 4), 327: (3, 4), 59: (None, 2)}


def hotpath_verdict(node: lp.Node, evt: Any) -> Tri | None:
    """``sinsp.hotpath.evaluate`` (the live hot path's reference evaluator) on the view of a
    candidate record; ``None`` when the event is not a candidate or that module is absent."""
    try:
        from sinsp import hotpath
    except ImportError:
        return None
    view_cls = getattr(hotpath, "View", None)
    ev = getattr(hotpath, "evaluate", None)
    if view_cls is None or ev is None or not is_candidate(evt):
        return None
    rec = evt.record
    t = rec.type
    if t == CLOSE_X:
        fd = _int_param(rec, 1) if rec.nparams > 1 else -1
        view = view_cls(t, fd=fd, res=_int_param(rec, 0), is_close=True)
    else:
        fi, mi = _FLAGS_MODE[t]
        flags = 0 if fi is None else _int_param(rec, fi, signed=False) & 0xFFFFFFFF
        path = _cstr(bytes(rec.rawparam(NAME_PARAM[t]))).decode("ascii")
        view = view_cls(t, path=path, flags=flags, mode=_int_param(rec, mi, signed=False),
                        fd=_int_param(rec, 0))
    got: Tri = ev(node, view)
    return got
