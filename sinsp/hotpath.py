"""The live hot path: open/close exits no rule can match only update the state.

A live openat/close storm costs the consumer ~10 us per pair in Python (an EventRecord, an
Event, the parsers, the rules), far above the ring's rate.  Most of those events cannot match
any rule: the engine says so per event type as a tree of event-local predicates
(``sinsp.localpred``).  This module compiles those trees for C (``sinsp._hotpath_native``,
``sinsp/_cffi_src/hotpath.c``), which walks each drained batch once and picks the records to
*absorb*: candidates (``localpred``'s definition) whose tree is ``FALSE``.  An absorbed record
never becomes an ``Event``: it is numbered and its state change (a new fd, a closed fd) is
applied here exactly as ``Inspector.process`` and the open/close parsers would, so the state
after a batch is the same as if every record had been forwarded.

Three parts:

* :func:`evaluate` — the reference evaluator: a tree's Kleene verdict on a :class:`View`
  with the semantics of ``sinsp.fields`` and ``sinsp.filter`` (tests hold C to it).
* :func:`compile_program` — trees to the flat tables C evaluates (:class:`Program`).
* :func:`live_events` — the batch loop ``Inspector`` runs over a live source's raw batches.

Without the extension (``available()`` false) the program is never built and every record is
forwarded: the hot path is off, nothing else changes; ``import_error()`` says why (for a log
line: not built, or a stale build of an older ``hotpath.h``).
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from scap.record import EventRecord
from sinsp.filter.glob import AnyChar, Literal, Star, glob_parts
from sinsp.localpred import And, Const, Node, Not, Or, Pred, Tri, Unknown, kleene
from sinsp.parsers.fd_open import PPM_O_DIRECTORY, new_file_fd

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector

__all__ = ["HOT_TYPES", "HotStats", "Program", "View", "available", "compile_program",
           "evaluate", "import_error", "live_events"]

_ABI = 5  # hotpath.h HP_ABI (5: hp_load refuses field/operator mismatches, cut globs)
_native: Any = None
_import_error: str | None = None
try:
    from sinsp import _hotpath_native as _native  # type: ignore[attr-defined, no-redef]

    if _native.lib.hp_abi() != _ABI:  # a stale build of an older header
        _import_error = f"ABI {_native.lib.hp_abi()} != {_ABI}: rebuild (pip install -e .)"
        _native = None
except ImportError as exc:  # pragma: no cover - depends on the build
    _import_error = str(exc)


def available() -> bool:
    """Whether the C classifier is built (else the hot path is off)."""
    return _native is not None


def import_error() -> str | None:
    """Why the hot path is off for want of its extension, as one line for a log: the
    ``ImportError`` of ``sinsp._hotpath_native`` (not built) or an ABI mismatch (a stale build:
    rebuild with ``pip install -e .``).  ``None`` when :func:`available` is true."""
    return _import_error


#: PPME codes of the exits the hot path may absorb: open, openat (openat_2), openat2, creat,
#: close (their live exit-only layouts)
CLOSE_X, OPEN_X, CREAT_X, OPENAT_2_X, OPENAT2_X = 5, 3, 59, 307, 327
HOT_TYPES = frozenset({CLOSE_X, OPEN_X, CREAT_X, OPENAT_2_X, OPENAT2_X})

# sinsp.fields.evt's open-flag checks (PPM_O_* and the mode's exec bits)
_O_RDONLY, _O_WRONLY, _O_CREAT, _O_TMPFILE = 1, 2, 4, 8192
_EXEC_MASK = 0o111
#: the hot exits whose flags evt.is_open_* read (all but creat and close)
_OPENERS = frozenset({OPEN_X, OPENAT_2_X, OPENAT2_X})


class View:
    """One candidate as the fields see it: an open-family exit (``path``, whether the fd is a
    directory, the ``flags`` param (0 for creat) and ``mode``, the returned ``fd``) or a close
    exit (``is_close``: its ``fd`` param and result ``res``)."""

    __slots__ = ("fd", "flags", "is_close", "isdir", "mode", "path", "res", "type")

    def __init__(self, etype: int, *, path: str = "", flags: int = 0, mode: int = 0,
                 fd: int = 0, res: int | None = None, is_close: bool = False) -> None:
        self.type = etype
        self.is_close = is_close
        self.path = path
        self.flags = flags
        self.mode = mode
        self.fd = fd
        self.res = fd if res is None else res
        self.isdir = not is_close and etype != CREAT_X and bool(flags & PPM_O_DIRECTORY)

    def __repr__(self) -> str:
        what = "close" if self.is_close else repr(self.path)
        return f"View({self.type}, {what}, flags={self.flags:#x}, mode={self.mode:#o}, " \
               f"fd={self.fd}, res={self.res})"


# -- fields on a view (sinsp.fields.fd / evt on a candidate) -------------------------------

_STRING_FIELDS = frozenset({"fd.name", "fd.nameraw", "fd.directory", "fd.filename",
                            "fd.typechar", "fd.type"})
_INT_FIELDS = frozenset({"fd.num", "evt.rawres"})
_BOOL_FIELDS = frozenset({"evt.is_open_read", "evt.is_open_write", "evt.is_open_exec"})
_UNK: Any = object()  # the field is not known on this view


def field_value(field: str, v: View) -> Any:
    """The field's value on ``v``: what ``sinsp.fields`` extracts from the Event the record
    would become (``None``: N/A), or ``_UNK`` when the view does not tell (a close's path)."""
    if field == "fd.num":
        return v.fd
    if field == "evt.rawres":
        return v.res
    if v.is_close:
        return _UNK
    name = v.path
    if field in ("fd.name", "fd.nameraw"):
        return name
    if field == "fd.directory":  # _dir_of on a FILE / DIRECTORY fd
        if v.isdir:
            return name
        pos = name.rfind("/")
        if pos > 0:
            return name[:pos] if pos < len(name) - 1 else name
        return "/"
    if field == "fd.filename":  # N/A on a directory
        if v.isdir:
            return None
        pos = name.rfind("/")
        if pos >= 0:
            return name[pos + 1:] if pos < len(name) - 1 else name
        return "/"
    if field == "fd.typechar":
        return "d" if v.isdir else "f"
    if field == "fd.type":
        return "directory" if v.isdir else "file"
    # evt.is_open_*: open (3), openat_2 (307) and openat2 (327) exits read their flags
    # (sinsp.fields.evt.OPEN_FLAG_PARAMS); creat (59) only has the exec check, on its mode
    opener = v.type in _OPENERS
    if field == "evt.is_open_read":
        return opener and bool(v.flags & _O_RDONLY)
    if field == "evt.is_open_write":
        return opener and bool(v.flags & _O_WRONLY)
    if field == "evt.is_open_exec":
        if v.type == CREAT_X:
            return bool(v.mode & _EXEC_MASK)
        return opener and bool(v.flags & (_O_TMPFILE | _O_CREAT)) and bool(v.mode & _EXEC_MASK)
    return _UNK


# -- operands: what both evaluators accept -------------------------------------------------

_INT64 = (-(1 << 63), (1 << 63) - 1)
_STRING_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "startswith", "endswith",
                         "contains", "glob", "pmatch"})
_NUMBER_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in"})
_BOOL_OPS = frozenset({"=", "!=", "in"})


def _number(x: str | int | bool) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        n = x
    else:
        from sinsp.filter.compiler import _parse_number  # sinsp.filter's literal parsing

        try:
            got = _parse_number(x)
        except ValueError:
            return None
        if isinstance(got, float):
            if not got.is_integer():
                return None
            got = int(got)
        n = got
    return n if _INT64[0] <= n <= _INT64[1] else None


def _boolean(x: str | int | bool) -> bool | None:
    if isinstance(x, bool):
        return x
    return {"true": True, "false": False}.get(x) if isinstance(x, str) else None


def operands(p: Pred) -> tuple[Any, ...] | None:
    """The Pred's operands as its field's type takes them (sinsp.filter's literal parsing),
    or ``None`` when the hot path does not evaluate this Pred (it is then UNKNOWN): an
    operator the field's type has no use for, a value of the wrong type, a number outside
    int64 or not whole, a glob C cannot encode."""
    if not p.values:
        return None
    if p.field in _STRING_FIELDS:
        if p.op not in _STRING_OPS or any(isinstance(x, bool) for x in p.values):
            return None
        vals = tuple(str(x) for x in p.values)
        if p.op == "glob" and _glob_tokens(vals[0]) is None:
            return None
        return vals
    if p.field in _INT_FIELDS:
        if p.op not in _NUMBER_OPS:
            return None
        nums = tuple(_number(x) for x in p.values)
        return None if any(n is None for n in nums) else nums
    if p.field in _BOOL_FIELDS:
        if p.op not in _BOOL_OPS:
            return None
        bools = tuple(_boolean(x) for x in p.values)
        return None if any(b is None for b in bools) else bools
    return None


def _pmatch_prefixes(values: tuple[str, ...]) -> tuple[str, ...]:
    """``pmatch`` operands as sinsp.filter keeps them: components joined, no outer '/'."""
    return tuple("/".join(c for c in s.split("/") if c) for s in values)


def _pred_verdict(p: Pred, v: View) -> Tri:
    ops = operands(p)
    if ops is None:
        return Tri.UNKNOWN
    value = field_value(p.field, v)
    if value is _UNK:
        return Tri.UNKNOWN
    if value is None:  # N/A: false for every operator, != included
        return Tri.FALSE
    return Tri.TRUE if _compare(p.op, value, ops) else Tri.FALSE


def _compare(op: str, value: Any, ops: tuple[Any, ...]) -> bool:
    """sinsp.filter's operator semantics on one value."""
    lit = ops[0]
    if op == "=":
        return bool(value == lit)
    if op == "!=":
        return bool(value != lit)
    if op == "in":
        return value in frozenset(ops)
    if op == "<":
        return bool(value < lit)
    if op == "<=":
        return bool(value <= lit)
    if op == ">":
        return bool(value > lit)
    if op == ">=":
        return bool(value >= lit)
    if op == "startswith":
        return bool(value.startswith(lit))
    if op == "endswith":
        return bool(value.endswith(lit))
    if op == "contains":
        return lit in value
    if op == "glob":
        from sinsp.filter.compiler import glob_to_regex

        return glob_to_regex(lit).fullmatch(value) is not None
    if op == "pmatch":
        from sinsp.fields.registry import FieldType
        from sinsp.filter.compiler import set_value_pred

        pred, _ = set_value_pred("pmatch", list(ops), FieldType.CHARBUF, False)
        return bool(pred(value))
    raise ValueError(f"not an event-local operator: {op}")


def evaluate(node: Node, v: View) -> Tri:
    """The Kleene verdict of ``node`` on ``v`` (the reference the C evaluator must equal)."""
    return kleene(node, lambda p: _pred_verdict(p, v))


def is_candidate_path(path: str) -> bool:
    """``localpred``'s candidate name: absolute, already normal, printable ASCII."""
    if len(path) < 2 or path[0] != "/" or path[-1] == "/":
        return False
    if not all(0x20 <= ord(c) <= 0x7E for c in path):
        return False
    if "//" in path or "/./" in path or "/../" in path:
        return False
    return not (path.endswith("/.") or path.endswith("/.."))


# -- glob patterns as C matches them -------------------------------------------------------

_G_STAR, _G_ANY, _G_CLASS, _G_LIT = 1, 2, 3, 4


def _glob_tokens(pattern: str) -> bytes | None:
    """``pattern`` as C's glob tokens, from the parts ``sinsp.filter.glob.glob_parts`` reads
    (as ``glob_to_regex`` does); a bracket expression becomes the bitmap of the ASCII
    characters its regex matches (so every subtlety of the class syntax is the regex engine's
    own).  ``None`` when the pattern does not compile."""
    out = bytearray()

    def lit(ch: str) -> None:
        if ord(ch) < 128:
            out.extend((_G_LIT, ord(ch)))
        else:  # never in a candidate's (ASCII) value
            out.append(_G_CLASS)
            out.extend(bytes(16))

    for part in glob_parts(pattern):
        if isinstance(part, Star):
            out.append(_G_STAR)
        elif isinstance(part, AnyChar):
            out.append(_G_ANY)
        elif isinstance(part, Literal):
            lit(part.char)
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rx = re.compile(part.regex(), re.DOTALL)
            except re.error:
                return None
            bitmap = bytearray(16)
            for ch in range(128):
                if rx.fullmatch(chr(ch)):
                    bitmap[ch >> 3] |= 1 << (ch & 7)
            out.append(_G_CLASS)
            out.extend(bitmap)
    return bytes(out)


# -- the program C evaluates ---------------------------------------------------------------

_FIELD_CODES = {"fd.name": 0, "fd.nameraw": 0, "fd.directory": 1, "fd.filename": 2,
                "fd.typechar": 3, "fd.type": 4, "fd.num": 5, "evt.rawres": 6,
                "evt.is_open_read": 7, "evt.is_open_write": 8, "evt.is_open_exec": 9}
_OP_CODES = {"=": 0, "!=": 1, "<": 2, "<=": 3, ">": 4, ">=": 5, "in": 6, "startswith": 7,
             "endswith": 8, "contains": 9, "glob": 10, "pmatch": 11}
_N_CONST, _N_PRED, _N_AND, _N_OR, _N_NOT = 0, 1, 2, 3, 4
_MAX_DEPTH = 200
_MAX_TYPE = 512


class _TooDeepError(Exception):
    pass


class _Builder:
    """Preorder node table, preds and operand tables for one program."""

    def __init__(self) -> None:
        self.nodes: list[list[int]] = []  # [kind, end, arg]
        self.preds: list[tuple[int, int, int, int]] = []
        self.strs: list[bytes] = []
        self.ints: list[int] = []

    def emit(self, node: Node, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _TooDeepError
        at = len(self.nodes)
        if isinstance(node, Const):
            self.nodes.append([_N_CONST, at + 1, int(node.value)])
        elif isinstance(node, Unknown):
            self.nodes.append([_N_CONST, at + 1, int(Tri.UNKNOWN)])
        elif isinstance(node, Pred):
            self.nodes.append(self.pred(node, at))
        elif isinstance(node, Not):
            self.nodes.append([_N_NOT, 0, 0])
            self.emit(node.item, depth + 1)
            self.nodes[at][1] = len(self.nodes)
        elif isinstance(node, And | Or):
            self.nodes.append([_N_AND if isinstance(node, And) else _N_OR, 0, 0])
            for item in node.items:
                self.emit(item, depth + 1)
            self.nodes[at][1] = len(self.nodes)
        else:
            raise TypeError(f"not a localpred node: {node!r}")

    def pred(self, p: Pred, at: int) -> list[int]:
        ops = operands(p)
        if ops is None:
            return [_N_CONST, at + 1, int(Tri.UNKNOWN)]
        field = _FIELD_CODES[p.field]
        if p.field in _STRING_FIELDS:
            if p.op == "glob":
                texts = [_glob_tokens(ops[0]) or b""]
            elif p.op == "pmatch":
                texts = [s.encode("ascii", "replace") for s in _pmatch_prefixes(ops)]
            else:
                texts = [s.encode("utf-8", "surrogateescape") for s in ops]
            if p.op not in ("in", "pmatch"):
                texts = texts[:1]
            if p.op == "pmatch" and any(not s.isascii() for s in ops):
                # a non-ASCII prefix never matches an ASCII value: leave it out (none left:
                # the check is FALSE)
                texts = [t for t, s in zip(texts, ops, strict=True) if s.isascii()]
                if not texts:
                    return [_N_CONST, at + 1, int(Tri.FALSE)]
            first = len(self.strs)
            self.strs.extend(texts)
            count = len(texts)
        else:
            vals = [int(x) for x in ops]
            if p.op != "in":
                vals = vals[:1]
            first = len(self.ints)
            self.ints.extend(vals)
            count = len(vals)
        self.preds.append((field, _OP_CODES[p.op], first, count))
        return [_N_PRED, at + 1, len(self.preds) - 1]


class Program:
    """The compiled trees, loaded in C; ``types`` are the event types it may absorb."""

    __slots__ = ("handle", "types")

    def __init__(self, handle: Any, types: frozenset[int]) -> None:
        self.handle = handle
        self.types = types

    def eval_view(self, v: View) -> Tri:
        """C's verdict on one view (tests compare it with :func:`evaluate`)."""
        ffi, lib = _native.ffi, _native.lib
        raw = v.path.encode("utf-8", "surrogateescape")
        buf = ffi.new("char[]", raw)
        r = lib.hp_eval_view(self.handle, v.type, int(v.is_close), buf, len(raw), int(v.isdir),
                             v.flags, v.mode, v.fd, v.res)
        return Tri(r)


def compile_program(filters: Mapping[int, Node]) -> Program | None:
    """The per-type trees as a C program (``None`` when the extension is not built).  Types
    outside :data:`HOT_TYPES` are ignored; a tree deeper than C evaluates is left out (that
    type is then never absorbed)."""
    if _native is None:
        return None
    ffi, lib = _native.ffi, _native.lib
    b = _Builder()
    roots = [-1] * _MAX_TYPE
    for etype, tree in filters.items():
        if etype not in HOT_TYPES:
            continue
        mark = (len(b.nodes), len(b.preds), len(b.strs), len(b.ints))
        try:
            b.emit(tree, 0)
        except _TooDeepError:
            del b.nodes[mark[0]:], b.preds[mark[1]:], b.strs[mark[2]:], b.ints[mark[3]:]
            continue
        roots[etype] = mark[0]
    nodes = ffi.new("hp_node[]", max(1, len(b.nodes)))
    for i, (kind, end, arg) in enumerate(b.nodes):
        nodes[i].kind, nodes[i].end, nodes[i].arg = kind, end, arg
    preds = ffi.new("hp_pred[]", max(1, len(b.preds)))
    for i, (field, op, first, count) in enumerate(b.preds):
        preds[i].field, preds[i].op, preds[i].first, preds[i].count = field, op, first, count
    offs, lens, pos = [], [], 0
    for s in b.strs:
        offs.append(pos)
        lens.append(len(s))
        pos += len(s)
    strs = b"".join(b.strs)
    handle = ffi.gc(lib.hp_new(), lib.hp_free)
    if handle == ffi.NULL:
        raise MemoryError("hp_new")
    rc = lib.hp_load(handle, nodes, len(b.nodes), preds, len(b.preds), strs, len(strs),
                     ffi.new("uint32_t[]", offs or [0]), ffi.new("uint32_t[]", lens or [0]),
                     len(b.strs), ffi.new("int64_t[]", b.ints or [0]), len(b.ints),
                     ffi.new("int32_t[]", roots), len(roots))
    if rc != 0:  # a bug in this compiler, never the rules' fault: absorb nothing
        raise RuntimeError("hp_load rejected the compiled program")
    return Program(handle, frozenset(t for t in HOT_TYPES if roots[t] >= 0))


# -- the batch loop --------------------------------------------------------------------------

class HotStats:
    """What the hot path absorbed: opens (fds added), closes, and batches classified."""

    __slots__ = ("batches", "closes", "opens")

    def __init__(self) -> None:
        self.opens = 0
        self.closes = 0
        self.batches = 0

    @property
    def absorbed(self) -> int:
        return self.opens + self.closes

    def as_dict(self) -> dict[str, int]:
        return {"open": self.opens, "close": self.closes}

    def __repr__(self) -> str:
        return f"HotStats(opens={self.opens}, closes={self.closes}, batches={self.batches})"


_HDR = struct.Struct("<QqIHI")
_K_OPEN, _K_CLOSE, _K_BAD, _K_CLOSE_FAILED, _K_OPEN_PAIRED = 1, 2, 3, 4, 5
_OPENS = (_K_OPEN, _K_OPEN_PAIRED)


class _Columns:
    """C's output columns, grown to the largest batch seen."""

    __slots__ = ("arrays", "cap", "dev", "fd", "flags", "idx", "ino", "kind", "name_len",
                 "name_off", "out", "tid")

    def __init__(self, cap: int) -> None:
        ffi = _native.ffi
        self.cap = cap
        self.out = ffi.new("hp_out *")
        spec = (("idx", "uint32_t"), ("kind", "uint8_t"), ("tid", "int64_t"),
                ("fd", "int64_t"), ("res", "int64_t"), ("name_off", "uint32_t"),
                ("name_len", "uint32_t"), ("flags", "uint32_t"), ("dev", "uint32_t"),
                ("ino", "uint64_t"), ("isdir", "uint8_t"))
        self.arrays = []
        for name, ctype in spec:
            arr = ffi.new(f"{ctype}[]", cap)
            self.arrays.append(arr)
            setattr(self.out, name, arr)
        self.out.cap = cap
        self.views(0)

    def views(self, m: int) -> None:
        """The first ``m`` entries of every column C wrote, as memoryviews (an entry costs
        only when read)."""
        buf = _native.ffi.buffer
        out = self.out
        self.idx = memoryview(buf(out.idx, 4 * m)).cast("I")
        self.kind = bytes(buf(out.kind, m))
        self.tid = memoryview(buf(out.tid, 8 * m)).cast("q")
        self.fd = memoryview(buf(out.fd, 8 * m)).cast("q")
        self.name_off = memoryview(buf(out.name_off, 4 * m)).cast("I")
        self.name_len = memoryview(buf(out.name_len, 4 * m)).cast("I")
        self.flags = memoryview(buf(out.flags, 4 * m)).cast("I")
        self.dev = memoryview(buf(out.dev, 4 * m)).cast("I")
        self.ino = memoryview(buf(out.ino, 8 * m)).cast("Q")


def _absorb(insp: Inspector, data: bytes, c: _Columns, j: int, m: int) -> tuple[int, int]:
    """Apply the absorbed entries from ``j`` on while they are consecutive records (no
    forwarded record between them, so nothing else touches the state meanwhile): what
    ``Inspector.process`` and the open/close parsers do, without an Event.  Returns the next
    entry and record; it stops early (returning an entry whose record comes next) at an
    open whose thread has no fd table, which the caller forwards."""
    idx, kinds, tids, fds = c.idx, c.kind, c.tid, c.fd
    name_off, name_len, flags, dev, ino = c.name_off, c.name_len, c.flags, c.dev, c.ino
    get = insp.threads.get
    i = idx[j]
    j0 = j
    n_open = n_bad = 0
    last_tid = None
    table: Any = None
    while j < m and idx[j] == i:
        kind = kinds[j]
        if kind == _K_BAD:
            n_bad += 1
            i += 1
            j += 1
            continue
        tid = tids[j]
        if tid != last_tid:
            ti = get(tid)
            if ti is None:
                if not insp._seen_non_container:
                    insp._note_non_container()
                ti = insp.create_thread(tid)
            elif kind in _OPENS and ti.fd_table() is None:
                break
            elif not insp._seen_non_container:
                insp._note_non_container()
            ti.last_enter = None
            table = ti.fd_table()
            last_tid = tid
        elif kind in _OPENS and table is None:
            break
        if kind == _K_OPEN_PAIRED:
            # open + close of one fd, back to back: the table ends without it, the counters
            # as if it had been added and removed
            fd = fds[j]
            if table.remove(fd) is None:
                if len(table) >= table.max_fds:  # the add would have evicted: do it all
                    a = name_off[j]
                    table.add(new_file_fd(fd, data[a:a + name_len[j]].decode("ascii"),
                                          flags[j], dev[j], ino[j]))
                    table.remove(fd)
                    table.stats.added -= 1  # (counted below)
                else:
                    table.stats.removed += 1
            table.stats.added += 1
            n_open += 1
            i += 2
            j += 2
            continue
        if kind == _K_OPEN:
            a = name_off[j]
            table.add(new_file_fd(fds[j], data[a:a + name_len[j]].decode("ascii"), flags[j],
                                  dev[j], ino[j]))
            n_open += 1
        elif kind == _K_CLOSE and table is not None:
            table.remove(fds[j])
        i += 1
        j += 1
    done = j - j0 - n_bad
    insp._num += done
    insp.stats.events += done
    insp.hot_stats.opens += n_open
    insp.hot_stats.closes += done - n_open
    return j, i


def live_events(insp: Inspector, src: Any) -> Iterator[Event]:
    """Events of a live source's raw batches (``src.raw_batches()``), through the hot path
    when ``insp`` has a program (``Inspector.set_hotpath``): forwarded records are processed
    as ``Inspector`` iteration does, absorbed ones only change the state.  Calls
    ``insp.on_batch(last ts or 0, absorbed)`` once per batch, after its events (a batch the
    consumer stops in the middle of is not reported)."""
    visible = insp.event_types
    process = insp.process
    update = insp._update
    threads = insp.threads
    verdict = insp._verdict
    hot = insp.hot_stats
    cols: _Columns | None = None
    for raw in src.raw_batches():
        n = raw.n
        prog: Program | None = insp.hotpath_program
        if n == 0:
            if insp.on_batch is not None:
                insp.on_batch(0, 0)
            continue
        if prog is None:
            recs = src.records_from_raw(raw)
            for rec in recs:
                if visible is None or rec.type in visible:
                    evt = process(rec)
                    if evt is not None:
                        yield evt
                else:
                    update(rec)
            if insp.on_batch is not None:
                insp.on_batch(recs[-1].ts if recs else 0, 0)
            continue
        lib = _native.lib
        if cols is None or cols.cap < n:
            cols = _Columns(max(n, 1024))
        data = raw.data
        out = cols.out
        lib.hp_classify(prog.handle, data, len(data), raw.offsets, n, out)
        m = out.m
        n_bad = out.n_bad
        src.account_raw(n - n_bad, n_bad)
        hot.batches += 1
        before = hot.opens + hot.closes
        cols.views(m)
        idx, kinds = cols.idx, cols.kind
        offsets = memoryview(raw.offsets).cast("I")
        cpus = memoryview(raw.cpus).cast("H")
        unpack = _HDR.unpack_from
        i = j = 0  # the next record, the next absorbed entry
        while True:
            stop = idx[j] if j < m else n
            while i < stop:  # forwarded records: as RingSource._records + Inspector.__iter__
                off = offsets[i]
                ts, tid, ln, etype, npar = unpack(data, off)
                rec = EventRecord(ts, tid, cpus[i], etype, 0, npar, data[off:off + ln])
                i += 1
                if visible is None or etype in visible:
                    evt = process(rec)
                    if evt is not None:
                        yield evt
                        if insp.hotpath_program is not prog:  # rules reloaded mid-batch:
                            prog = None                       # forward the rest
                else:
                    update(rec)
            if j == m:
                break
            if prog is not None:
                if verdict.remove_fds or verdict.remove_tids:
                    verdict.apply(threads)
                j, i = _absorb(insp, data, cols, j, m)
                if j == m or idx[j] != i:
                    continue  # a gap: forwarded records next
            # the record at entry j is forwarded after all: stale verdicts (rules reloaded),
            # or an open by a thread without an fd table (the Event would see no fd, which
            # the trees do not describe); the state change is the same either way
            if kinds[j] != _K_BAD:
                yield from _forward_one(insp, data, offsets[i], cpus[i])
                # a yield as above: the consumer may have reloaded the rules on that event
                if prog is not None and insp.hotpath_program is not prog:
                    prog = None
            i += 1
            j += 1
        if insp.on_batch is not None:
            insp.on_batch(out.last_ts, hot.opens + hot.closes - before)


def _forward_one(insp: Inspector, data: bytes, off: int, cpu: int) -> Iterator[Event]:
    """One record forwarded after all (the rare cases of the batch loop)."""
    ts, tid, ln, etype, npar = _HDR.unpack_from(data, off)
    rec = EventRecord(ts, tid, cpu, etype, 0, npar, data[off:off + ln])
    visible = insp.event_types
    if visible is None or etype in visible:
        evt = insp.process(rec)
        if evt is not None:
            yield evt
    else:
        insp._update(rec)
