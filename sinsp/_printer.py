"""pysysdig's default line in C: the Python side of ``sinsp._printer_native``.

``sysdig -r F`` prints one line per event; most events (fstat, mmap, access, generic
syscalls, the enters of parsed exits ...) change no state the line shows, so printing them
is pure formatting.  The C printer (``sinsp/_cffi_src/printer.c``) renders those straight
from the scanner's buffer and columns (``scap.Capture.raw_batches``; V1 batches, which scap
rewrites into records, are laid out again the same way).  Every other event stops C and goes
through the inspector as before (``PR_PYTHON``): events of a type the state layer parses
among those it needs for the default format's fields (``state_event_types``), internal and
state-only ones, and any event with a parameter C does not render (IPv6, relative paths, odd
sizes ...).  Once the inspector has processed it, C renders its line too when it can (never a
syslog-decoded write), else :class:`sinsp.format.Formatter` does.

The line reads the state through a cache in C (tid -> comm, pid and fd table; (table, fd) ->
the fd's ``fd_desc`` text; flag words -> their names), filled on a miss (``PR_MISS_*``).
Coherence (what keeps the output identical), after each event the inspector processes:

* the fd texts C holds for the thread's fd tables (before and after) are re-checked against
  the FdInfo they came from (object and every field ``fd_desc`` reads) and sent anew when no
  longer true; the thread's entry is sent anew when its comm, pid or table changed;
* every thread the thread table reports added, replaced, removed or evicted
  (``ThreadTable.listener``) is dropped, and the threads of that pid with it (their fd table
  is the pid's); so is the pid when the thread's own table or pid changed;
* its deferred removals are applied at once (``Inspector.apply_pending``), after its line and
  before C prints anything later, and the removed fds are marked closed in C.

Two parsed exits stay in C when their enter is the one C rendered last for the thread in the
batch, because their parsers are that simple (printer.h; keep them in step with the parsers):
close exits (``parse_close_exit``: a result >= 0 removes the enter's fd; C marks it closed in
its cache and queues it, and ``_Run.apply_closes`` removes the queue from the fd tables after
every ``pr_run``, before anything else, exactly where the verdict would have applied it), and
the send/recv tuple exits whose enter's fd C holds as absent (``parse_send_tuple`` /
``parse_recv_tuple`` change nothing when ``evt.fd`` is None).

C records, per thread, the last enter (or exit) it rendered; this module sets
``ThreadInfo.last_enter`` from that before the inspector sees another event, so exits still
pair with their enters.  State the default line never shows is not updated for C-rendered
events (the vm counters of mmap/brk, fd limits, the ``connected`` mark of read/write):
exactly what the prefilter drops for these fields.  ``available()`` says whether the
extension is built; without it pysysdig keeps the Python loop.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any, Literal, Protocol

from scap import schema
from scap.errors import NativeError
from scap.record import EventRecord
from scap.schema import EF, PF, PT
from sinsp import format as fmt
from sinsp.state.threads import CL_CLONE_FILES

__all__ = ["PrinterStats", "available", "import_error", "last_stats", "print_default"]

_ABI = 7


class _Lib(Protocol):  # what we call in C, for type checkers
    def pr_abi(self) -> int: ...
    def pr_new(self, out_cap: int) -> Any: ...
    def pr_free(self, p: Any) -> None: ...
    def pr_set_type(self, p: Any, t: int, cls: int, touches: int, renderable: int,
                    head: bytes, head_len: int, nshown: int) -> int: ...
    def pr_set_param(self, p: Any, t: int, i: int, kind: int, aux: int, prefix: bytes,
                     prefix_len: int) -> int: ...
    def pr_set_name(self, p: Any, table: int, code: int, name: bytes, n: int) -> int: ...
    def pr_run(self, p: Any, b: Any) -> int: ...
    def pr_render(self, p: Any, b: Any, i: int) -> int: ...
    def pr_put_thread(self, p: Any, tid: int, present: int, pid: int, table: int,
                      comm: bytes, n: int) -> int: ...
    def pr_put_fd(self, p: Any, table: int, fd: int, present: int, text: bytes,
                  n: int) -> int: ...
    def pr_put_flags(self, p: Any, t: int, i: int, value: int, text: bytes, n: int) -> int: ...
    def pr_drop_thread(self, p: Any, tid: int) -> None: ...
    def pr_drop_pid(self, p: Any, pid: int) -> int: ...
    def pr_drop_table(self, p: Any, table: int) -> None: ...
    def pr_reset(self, p: Any) -> None: ...
    def pr_cache_stats(self, p: Any, s: Any) -> None: ...
    def pr_touched(self, p: Any, tids: Any, idx: Any, cap: int) -> int: ...
    def pr_closes(self, p: Any, tables: Any, fds: Any, cap: int) -> int: ...
    def pr_append(self, p: Any, text: bytes, n: int) -> int: ...


_lib: _Lib | None = None
_ffi: Any = None
_import_error: str | None = None
try:
    import sinsp._printer_native as _native  # compiled by cffi: no source for type checkers

    _loaded: _Lib = _native.lib
    if _loaded.pr_abi() != _ABI:
        _import_error = ("sinsp._printer_native is stale (ABI mismatch); rebuild it with "
                         "`.venv/bin/pip install -e .`")
    else:
        _ffi, _lib = _native.ffi, _loaded
except ImportError as e:  # not built: pysysdig keeps its Python loop
    _import_error = f"{e}; build it with `.venv/bin/pip install -e .`"


def available() -> bool:
    return _lib is not None


def import_error() -> str | None:
    return _import_error


# the C constants (printer.h), mirrored for readability
PR_DONE, PR_PYTHON, PR_MISS_TID, PR_MISS_FD, PR_MISS_FLAGS, PR_FULL, PR_LIMIT = range(7)
_CLS_C, _CLS_PYTHON, _CLS_SKIP, _CLS_GENERIC, _CLS_CLOSE, _CLS_FDNOP = range(6)
(_K_PYTHON, _K_INT, _K_INTFMT, _K_ERRNO, _K_CHARBUF, _K_FD, _K_PID, _K_FLAGS, _K_PATH,
 _K_BYTEBUF, _K_SOCKADDR, _K_SOCKTUPLE, _K_SYSCALLID, _K_SIGTYPE, _K_RELTIME) = range(15)
_I_S8, _I_S16, _I_S32, _I_S64, _I_U8, _I_U16, _I_U32 = range(1, 8)
_NAMES_ERRNO, _NAMES_SYSCALL, _NAMES_SIGNAL = range(3)

#: the layout _FAST_INT reads (decimal printing: 32/64-bit unsigned printed signed)
_DEC_LAYOUT = {PT.INT8: _I_S8, PT.INT16: _I_S16, PT.INT32: _I_S32, PT.INT64: _I_S64,
               PT.UINT8: _I_U8, PT.UINT16: _I_U16, PT.UINT32: _I_S32, PT.UINT64: _I_S64}
#: the layout format._INT_LAYOUT reads before printf_int
_FMT_LAYOUT = {PT.INT8: _I_S8, PT.INT16: _I_S16, PT.INT32: _I_S32, PT.INT64: _I_S64,
               PT.UINT8: _I_U8, PT.UINT16: _I_U16, PT.UINT32: _I_U32, PT.UINT64: _I_S64}
_FMT_CODE = {PF.OCT: 1, PF.HEX: 2, PF.PADDED_DEC_10: 3}
_FLAG_WIDTH = {PT.FLAGS8: 1, PT.FLAGS16: 2, PT.FLAGS32: 4}
_SIMPLE = {PT.ERRNO: _K_ERRNO, PT.CHARBUF: _K_CHARBUF, PT.FD: _K_FD, PT.PID: _K_PID,
           PT.FSPATH: _K_PATH, PT.BYTEBUF: _K_BYTEBUF, PT.SOCKADDR: _K_SOCKADDR,
           PT.SOCKTUPLE: _K_SOCKTUPLE, PT.SYSCALLID: _K_SYSCALLID, PT.SIGTYPE: _K_SIGTYPE,
           PT.RELTIME: _K_RELTIME}
_LARGE = frozenset({322, 324, 402})  # u32 parameter lengths (format._LARGE)
_OUT_CAP = 1 << 20
_FLUSH_AT = 1 << 18
_MAX_TABLES = 4096
_MAX_CHECKED_FDS = 32
_ABSENT: tuple[Any, Any] = (None, None)
#: pr_batch columns in EventRecord's argument order: (field, item size, memoryview code)
_Code = Literal["Q", "q", "I", "H"]
_COLUMNS: tuple[tuple[str, int, _Code], ...] = (
    ("ts", 8, "Q"), ("tid", 8, "q"), ("cpu", 2, "H"), ("type", 2, "H"), ("dump_flags", 4, "I"),
    ("nparams", 4, "I"), ("rec_start", 8, "Q"), ("rec_end", 8, "Q"), ("block_off", 8, "Q"),
    ("seq", 8, "Q"))
_NOTHING: tuple[Any, Any, Any] = (None, None, None)


def _param_kind(p: Any) -> tuple[int, int]:
    """(PR_K_*, aux) of one parameter, as format._plan/_compile_args render it."""
    ptype = p.type
    if ptype in _DEC_LAYOUT:
        code = _FMT_CODE.get(p.fmt)
        if code is None:
            return _K_INT, _DEC_LAYOUT[ptype]
        return _K_INTFMT, _FMT_LAYOUT[ptype] | code << 8
    if ptype in _FLAG_WIDTH:
        return _K_FLAGS, _FLAG_WIDTH[ptype]
    return _SIMPLE.get(ptype, _K_PYTHON), 0


def _configure(lib: _Lib, p: Any, python_types: frozenset[int],
               internal: frozenset[int]) -> list[bool]:
    """Hand C the per-type plan: class, head text, and each shown parameter's kind.
    Returns, per type, whether C can render its line (every parameter kind handled)."""
    from sinsp.parsers import PARSERS, PLAN, PLAN_SKIPRESET, ensure_built
    from sinsp.parsers.fd_open import parse_close_exit
    from sinsp.parsers.net import parse_recv_tuple, parse_send_tuple

    ensure_built()
    newest = schema.EVENT_INFO_0_29_3_COUNT
    renderable_types = []
    for t in range(min(len(schema.EVENT_INFO), 1024)):
        e = fmt.display_info(t)
        head = f"{'<' if t & 1 else '>'} {e.name if e is not None else 'unknown'} "
        hb = head.encode("utf-8", "surrogateescape")
        touches = int(t < len(PLAN) and not PLAN[t] & PLAN_SKIPRESET)
        kinds = [] if e is None or t <= 1 else [_param_kind(q) for q in e.params]
        renderable = (e is not None and t < newest and t not in _LARGE and len(kinds) < 64
                      and len(hb) <= 64 and all(k != _K_PYTHON for k, _ in kinds))
        if t >= newest:
            cls = _CLS_SKIP
        elif t <= 1:
            cls = _CLS_GENERIC
        elif (not renderable or t in python_types
              or (t & 1 and int(e.flags) & int(EF.WRITES_TO_FD))):  # fmt: skip
            cls = _CLS_PYTHON
        else:
            cls = _CLS_C
        if (cls == _CLS_PYTHON and renderable and t & 1 and t not in internal
                and PARSERS.get(t) is parse_close_exit and PARSERS.get(t - 1) is None
                and e is not None and e.name == "close"):  # fmt: skip
            # all its parser does is remove the enter's fd when the result is >= 0: C does
            # that (printer.h, PR_CLS_CLOSE) and _Run.apply_closes hands it to the state
            cls = _CLS_CLOSE
        elif (cls == _CLS_PYTHON and renderable and t & 1 and t not in internal
                and PARSERS.get(t) in (parse_send_tuple, parse_recv_tuple)
                and PARSERS.get(t - 1) is None):  # fmt: skip
            # they change nothing when the enter's fd is not in the table (evt.fd None):
            # C checks that in its cache (printer.h, PR_CLS_FDNOP)
            cls = _CLS_FDNOP
        renderable_types.append(renderable)
        shown = kinds if renderable else []
        _check(lib.pr_set_type(p, t, cls, touches, int(renderable), hb[:64], len(hb[:64]),
                               len(shown)), "pr_set_type")
        for i, (kind, aux) in enumerate(shown):
            assert e is not None
            prefix = (e.params[i].name + "=").encode("utf-8", "surrogateescape")
            if len(prefix) > 40:
                _check(-1, f"parameter name of type {t} too long")
            _check(lib.pr_set_param(p, t, i, kind, aux, prefix, len(prefix)), "pr_set_param")
    for table, names in ((_NAMES_ERRNO, fmt._ERRNO_NAMES.items()),
                         (_NAMES_SIGNAL, fmt._SIGNAL_NAMES.items()),
                         (_NAMES_SYSCALL, enumerate(schema.SYSCALL_NAMES_0_29_3))):
        for code, name in names:
            nb = (name or "").encode("utf-8", "surrogateescape")
            _check(lib.pr_set_name(p, table, code, nb, len(nb)), "pr_set_name")
    return renderable_types


def _check(rc: int, where: str) -> None:
    """The one place a C status becomes an exception."""
    if rc < 0:
        raise NativeError(rc, where, "the native printer failed (out of memory or bad table)")


class PrinterStats:
    """How the events of one run were handled (for the bench and the tests)."""

    __slots__ = ("c_lines", "drop_visits", "misses", "pids", "python_events", "tid_deleted",
                 "tid_live", "tid_slots")

    def __init__(self) -> None:
        self.c_lines = 0
        self.python_events = 0
        self.misses = 0
        #: C's thread cache at the end of the run (pr_cache_stats): its tid table's slots,
        #: entries and tombstones, the pids indexed, and the tid entries pr_drop_pid visited
        self.tid_slots = 0
        self.tid_live = 0
        self.tid_deleted = 0
        self.pids = 0
        self.drop_visits = 0

    def __repr__(self) -> str:
        return (f"PrinterStats(c_lines={self.c_lines}, python_events={self.python_events}, "
                f"misses={self.misses})")


class _Run:
    """One ``print_default`` call: the C state, the cache registry and the stop handlers."""

    def __init__(self, insp: Any, render: Callable[[Any], str | None], out: IO[str],
                 internal: frozenset[int], limit: int) -> None:
        from sinsp.parsers import PARSERS, ensure_built
        from sinsp.parsers.prefilter import output_fields, state_event_types

        assert _lib is not None
        self.lib: _Lib = _lib
        self.insp = insp
        self.render = render
        self.out = out
        self.internal = internal
        self.limit = limit
        p = _lib.pr_new(_OUT_CAP)
        if p == _ffi.NULL:
            _check(-1, "pr_new")
        self.p = p
        ensure_built()
        # state events without a parser (the enters of parsed exits, mostly) only pair and
        # create threads: C renders them and hands their records over (sync_enters)
        state = state_event_types(output_fields(fmt.DEFAULT_FORMAT))
        python_types = frozenset(t for t in state if t in PARSERS) | internal
        self.renderable = _configure(_lib, p, python_types, internal)
        #: per type, how a Python event's line is rendered: 0 by Python, 1 by C, 2 by C
        #: unless its evt.info is a syslog message (exits writing to an fd; evt.info's
        #: extractor)
        self.c_ok = [0 if not ok else 2 if t & 1 and (e := fmt.display_info(t)) is not None
                     and int(e.flags) & int(EF.WRITES_TO_FD) else 1
                     for t, ok in enumerate(self.renderable)]
        p.limit = limit
        p.tz_offset = fmt.gmt2local()
        self.tcap = 1024
        self.t_tids = _ffi.new("int64_t[]", self.tcap)
        self.t_idx = _ffi.new("int64_t[]", self.tcap)
        self.c_tables = _ffi.new("uint64_t[]", self.tcap)
        self.c_fds = _ffi.new("int64_t[]", self.tcap)
        #: id(table) -> (table, serial): holding the table keeps its id from being reused
        self.serials: dict[int, tuple[Any, int]] = {}
        self.tables: dict[int, Any] = {}
        #: tid -> (pid, table serial, comm) of the thread entries C holds
        self.pushed: dict[int, tuple[int, int, str]] = {}
        #: pid -> the tids of ``pushed`` with that pid, so that dropping a pid costs its own
        #: threads (as C's pid index), not a scan of every thread pushed
        self.pid_tids: dict[int, set[int]] = {}
        #: serial -> fd -> (FdInfo or None, and what fd_desc reads of it) of the fd texts C
        #: holds: after an event, the entries still true are kept, the others sent anew
        self.fdm: dict[int, dict[int, tuple[Any, Any]]] = {}
        self.dirty: list[int] = []
        self.first = True
        self.stats = PrinterStats()
        self.n_python = 0
        self.tget = insp.threads.get
        #: the inspector's pending removals (what ``apply_pending`` applies)
        self.verdict = insp._verdict
        self.n_types = len(self.c_ok)
        self.batch: Any = None
        self.buf: Any = b""
        self.cols: tuple[memoryview, ...] | None = None
        self.b = _ffi.new("pr_batch *")
        self.raw_out = _raw_stdout(out)

    def close(self) -> None:
        if self.p is not None:
            self.lib.pr_free(self.p)
            self.p = None

    # -- output ---------------------------------------------------------------------------

    def flush(self) -> None:
        p = self.p
        if p.out_len:
            data = _ffi.buffer(p.out, p.out_len)[:]
            p.out_len = 0
            raw = self.raw_out
            if raw is not None and data.isascii():  # the bytes the text layer would write
                self.out.flush()
                raw.write(data)
            else:
                self.out.write(data.decode("utf-8", "surrogateescape"))

    def emit(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", "surrogateescape")
        if not self.lib.pr_append(self.p, data, len(data)):
            self.flush()
            if not self.lib.pr_append(self.p, data, len(data)):
                self.out.write(line + "\n")

    # -- the cache ------------------------------------------------------------------------

    def serial(self, table: Any) -> int:
        if table is None:
            return 0
        entry = self.serials.get(id(table))
        if entry is not None and entry[0] is table:
            return entry[1]
        if len(self.serials) >= _MAX_TABLES:
            # forget every table (and what C holds for them) rather than grow without bound
            self.serials.clear()
            self.tables.clear()
            self.pushed.clear()
            self.pid_tids.clear()
            self.fdm.clear()
            self.lib.pr_reset(self.p)
        serial = len(self.serials) + 1
        self.serials[id(table)] = (table, serial)
        self.tables[serial] = table
        return serial

    def known_serial(self, table: Any) -> int:
        """The serial C knows ``table`` by, or 0 (C holds nothing of it)."""
        entry = self.serials.get(id(table))
        return entry[1] if entry is not None and entry[0] is table else 0

    def put_thread(self, tid: int) -> None:
        ti = self.insp.threads.get(tid)
        if ti is None:
            self.forget(tid)
            _check(self.lib.pr_put_thread(self.p, tid, 0, 0, 0, b"", 0), "pr_put_thread")
            return
        serial = self.serial(ti.fd_table())
        comm = ti.comm or ""
        self.forget(tid)
        self.pushed[tid] = (ti.pid, serial, comm)
        tids = self.pid_tids.get(ti.pid)
        if tids is None:
            self.pid_tids[ti.pid] = {tid}
        else:
            tids.add(tid)
        cb = comm.encode("utf-8", "surrogateescape")
        _check(self.lib.pr_put_thread(self.p, tid, 1, ti.pid, serial, cb, len(cb)),
               "pr_put_thread")

    def put_fd(self, serial: int, fd: int) -> None:
        table = self.tables.get(serial)
        fdi = table.get(fd) if table is not None else None
        m = self.fdm.get(serial)
        if m is None:
            m = self.fdm[serial] = {}
        if fdi is None:
            m[fd] = _ABSENT
            _check(self.lib.pr_put_fd(self.p, serial, fd, 0, b"", 0), "pr_put_fd")
            return
        m[fd] = (fdi, (fdi.name, fdi.type, fdi.l4proto, fdi.flags, fdi.ino))
        text = fmt.fd_desc(fdi).encode("utf-8", "surrogateescape")
        _check(self.lib.pr_put_fd(self.p, serial, fd, 1, text, len(text)), "pr_put_fd")

    def revalidate(self, table: Any, serial: int) -> None:
        """After an event that may have changed ``table`` (known to C as ``serial``): send
        anew the fd texts C holds for it that are no longer what fd_desc would give (few per
        table; a table with many cached fds is dropped whole instead)."""
        m = self.fdm.get(serial)
        if not m:
            return
        if len(m) > _MAX_CHECKED_FDS:
            m.clear()
            self.lib.pr_drop_table(self.p, serial)
            return
        get = table.get
        for fd, (was, key) in m.items():  # put_fd only replaces values: safe while iterating
            cur = get(fd)
            if cur is not was or (cur is not None and (
                    cur.name, cur.type, cur.l4proto, cur.flags, cur.ino) != key):
                self.put_fd(serial, fd)

    def put_flags(self, etype: int, idx: int, value: int) -> None:
        pinfo = fmt.display_info(etype).params[idx]
        names = "|".join(schema.flags_to_names(pinfo, value))
        text = (f"{value}({names})" if names else str(value)).encode("utf-8", "surrogateescape")
        _check(self.lib.pr_put_flags(self.p, etype, idx, value, text, len(text)), "pr_put_flags")

    def on_thread_change(self, tid: int) -> None:
        self.dirty.append(tid)

    def forget(self, tid: int) -> None:
        """Take ``tid`` out of ``pushed`` (and its pid's set)."""
        was = self.pushed.pop(tid, None)
        if was is not None:
            tids = self.pid_tids[was[0]]
            tids.discard(tid)
            if not tids:
                del self.pid_tids[was[0]]

    def drop_thread(self, tid: int) -> None:
        self.lib.pr_drop_thread(self.p, tid)
        self.forget(tid)

    def drop_pid(self, pid: int) -> None:
        """Forget every thread entry of process ``pid`` (their fd table is the pid's)."""
        if not self.lib.pr_drop_pid(self.p, pid):
            return  # C held no entry of it, so neither does ``pushed``
        pushed = self.pushed
        for tid in self.pid_tids.pop(pid, ()):
            del pushed[tid]

    def drop_dirty(self) -> None:
        dirty = self.dirty
        for d in dirty:
            self.drop_thread(d)
            self.drop_pid(d)
        dirty.clear()

    def after_event(self, tid: int, before: Any, was: tuple[Any, Any, Any]) -> Any:
        """Forget what processing an event of thread ``tid`` may have changed (see the
        module docstring), then hand C that thread's entry anew; returns the thread.
        ``was``: the thread's (pid, own fd table, fd_table()) before the event."""
        pid_before, own_before, table_before = was
        after = self.tget(tid)
        if after is None:
            table_after = None
        elif after.flags & CL_CLONE_FILES:
            table_after = after.fd_table()
        else:
            table_after = after.fdtable
        serials = self.serials
        if table_before is not None:
            entry = serials.get(id(table_before))
            if entry is not None and entry[0] is table_before:
                self.revalidate(table_before, entry[1])
        serial = 0
        if table_after is not None:
            entry = serials.get(id(table_after))
            if entry is not None and entry[0] is table_after:
                serial = entry[1]
                if table_after is not table_before:
                    self.revalidate(table_after, serial)
        if self.dirty:
            self.drop_dirty()
        if after is None:
            self.drop_thread(tid)
            return None
        if after is not before or after.fdtable is not own_before or after.pid != pid_before:
            self.drop_pid(tid)  # threads sharing its table (CLONE_FILES) look it up anew
        pushed = self.pushed.get(tid)
        if (pushed is None or pushed[1] != serial or pushed[0] != after.pid
                or pushed[2] != after.comm):
            self.put_thread(tid)
        return after

    def sync_enters(self) -> None:
        """Set ``last_enter`` of the threads C rendered events of since the last sync."""
        tget = self.tget
        tids, idx, cap = self.t_tids, self.t_idx, self.tcap
        while True:
            n = self.lib.pr_touched(self.p, tids, idx, cap)
            for k in range(n):
                ti = tget(tids[k])
                if ti is not None:
                    i = idx[k]
                    ti.last_enter = None if i < 0 else self.record(i)
            if n < cap:
                return

    def apply_closes(self) -> None:
        """Remove from the state the fds the close exits C handled closed, in order: what
        the verdict ``parse_close_exit`` fills does (nothing else is pending then: every
        Python event's removals are applied before C runs on).  C marked them closed."""
        tables, fds, cap = self.c_tables, self.c_fds, self.tcap
        known, fdm = self.tables, self.fdm
        while True:
            n = self.lib.pr_closes(self.p, tables, fds, cap)
            for k in range(n):
                serial = tables[k]
                table = known.get(serial)
                if table is not None:
                    fd = fds[k]
                    table.remove(fd)
                    m = fdm.get(serial)
                    if m is None:
                        m = fdm[serial] = {}
                    m[fd] = _ABSENT
            if n < cap:
                return

    def record(self, i: int) -> EventRecord:
        """The ``EventRecord`` of event ``i`` of the current batch (read from the batch's
        columns through memoryviews, made once per batch on the first record asked for)."""
        c = self.cols
        if c is None:
            b, n = self.b, self.b.n
            c = self.cols = tuple(memoryview(_ffi.buffer(getattr(b, name), n * size)).cast(code)
                                  for name, size, code in _COLUMNS)
        ts, tid, cpu, etype, dflags, nparams, start, end, off, seq = c
        return EventRecord(ts[i], tid[i], cpu[i], etype[i], dflags[i], nparams[i],
                           self.buf[start[i]:end[i]], off[i], seq[i])

    # -- the loop -------------------------------------------------------------------------

    def python_event(self, rec: Any, i: int) -> None:
        """Process event ``i`` through the state layer and print its line (C renders it when
        it can, from the updated cache); ``-n`` was counted by C."""
        insp = self.insp
        self.n_python += 1
        tid = rec.tid
        before = self.tget(tid)
        if before is None:
            was = _NOTHING
        else:
            own = before.fdtable
            was = (before.pid, own,
                   before.fd_table() if before.flags & CL_CLONE_FILES else own)
        evt = insp.process(rec)
        after = self.after_event(tid, before, was)
        if evt is None:
            self.p.count -= 1
        else:
            etype = rec.type
            if self.first:
                self._note_first(rec.ts)
            if etype not in self.internal:
                c_ok = self.c_ok[etype] if etype < self.n_types else 0
                if c_ok == 2:
                    fdi = evt.fd
                    c_ok = int(fdi is None or "/dev/log" not in fdi.name)
                if c_ok and after is not None and evt.thread is after:
                    rc = self.lib.pr_render(self.p, self.b, i)
                    c_ok = rc != PR_DONE and not self.c_render(rc, i)
                else:
                    c_ok = 1
                if c_ok:  # C did not write it
                    line = self.render(evt)
                    if line is not None:
                        self.emit(line)
        verdict = self.verdict
        if verdict.remove_fds or verdict.remove_tids:
            self.closed(insp.apply_pending())
        if self.dirty:
            self.drop_dirty()

    def closed(self, removed: list[tuple[Any, int]]) -> None:
        """Tell C of the fds the event's deferred removals took away."""
        put = self.lib.pr_put_fd
        for table, fd in removed:
            serial = self.known_serial(table)
            if serial and table.get(fd) is None:  # closed: C says so without asking
                self.fdm.setdefault(serial, {})[fd] = _ABSENT
                _check(put(self.p, serial, fd, 0, b"", 0), "pr_put_fd")
            elif serial:
                self.put_fd(serial, fd)

    def c_render(self, rc: int, i: int) -> bool:
        """Fill what pr_render missed (its code ``rc``) until the line is written (True) or
        C gives it up (False: Python renders it)."""
        lib, p, b = self.lib, self.p, self.b
        while True:
            if rc == PR_DONE:
                return True
            if rc == PR_MISS_FD:
                self.put_fd(p.miss_table, p.miss_fd)
            elif rc == PR_MISS_TID:
                self.put_thread(p.miss_tid)
            elif rc == PR_MISS_FLAGS:
                self.put_flags(p.miss_type, p.miss_param, p.miss_value)
            elif rc == PR_FULL:
                self.flush()
            else:
                return False
            rc = lib.pr_render(p, b, i)

    def _note_first(self, ts: int) -> None:
        from sinsp.fields import evt as evt_fields

        first_c = self.p.first_ts
        evt_fields.note_first_ts(self.insp, first_c if first_c else ts)
        self.first = False

    def run(self, batches: Iterable[Any]) -> None:
        lib, p, b = self.lib, self.p, self.b
        for batch in batches:
            if batch.legacy is not None:  # V1 records, rewritten: laid out again for C
                batch = _RecordsBatch(batch.legacy)
            self.batch = batch
            self.buf = batch.buf
            cols = batch.columns()
            keep = _ffi.from_buffer(batch.buf)
            b.buf = keep
            for name in ("ts", "tid", "rec_start", "rec_end", "nparams", "dump_flags", "type",
                         "cpu", "seq", "block_off"):
                setattr(b, name, _ffi.cast(_ffi.typeof(getattr(b, name)), cols[name]))
            b.n = batch.n
            b.i = 0
            self.cols = None
            while True:
                rc = lib.pr_run(p, b)
                if p.n_closes:
                    self.apply_closes()
                if rc == PR_PYTHON:
                    i = b.i
                    if p.n_touched:
                        self.sync_enters()
                    self.python_event(self.record(i), i)
                    b.i = i + 1
                elif rc == PR_DONE:
                    break
                elif rc == PR_MISS_TID:
                    self.put_thread(p.miss_tid)
                elif rc == PR_MISS_FD:
                    self.put_fd(p.miss_table, p.miss_fd)
                elif rc == PR_MISS_FLAGS:
                    self.put_flags(p.miss_type, p.miss_param, p.miss_value)
                elif rc == PR_FULL:
                    self.flush()
                elif rc == PR_LIMIT:
                    return
                else:
                    _check(-1, f"pr_run: unexpected stop code {rc}")
            if p.n_touched:
                self.sync_enters()
            if p.out_len >= _FLUSH_AT:
                self.flush()
            self.batch = None
            self.buf = b""
            self.cols = None
            del keep


def _raw_stdout(out: IO[str]) -> Any:
    """The byte stream under ``out`` when writing ASCII there is the same as writing it
    through ``out`` (pysysdig's stdout: UTF-8, newlines untranslated on POSIX), else None.
    Other text streams may translate newlines, which a TextIOWrapper does not tell."""
    if out is not sys.stdout and out is not sys.__stdout__:
        return None
    if not isinstance(out, io.TextIOWrapper) or os.linesep != "\n":
        return None
    try:
        if codecs.lookup(out.encoding).name != "utf-8":
            return None
    except LookupError:
        return None
    return out.buffer


class _RecordsBatch:
    """A batch of ready records (a V1 batch, rewritten to V2 by scap) laid out like a
    `RawBatch` (one buffer, the scanner's columns) so the C printer reads it the same way."""

    __slots__ = ("_arrays", "buf", "n")

    def __init__(self, recs: list[EventRecord]) -> None:
        from itertools import accumulate

        raws = [r.raw for r in recs]
        ends = list(accumulate(map(len, raws)))
        self.buf = b"".join(raws)
        self.n = len(recs)
        new = _ffi.new
        self._arrays = {
            "ts": new("uint64_t[]", [r.ts for r in recs]),
            "tid": new("int64_t[]", [r.tid for r in recs]),
            "rec_start": new("uint64_t[]", [0, *ends[:-1]]),
            "rec_end": new("uint64_t[]", ends),
            "nparams": new("uint32_t[]", [r.nparams for r in recs]),
            "dump_flags": new("uint32_t[]", [r.dump_flags for r in recs]),
            "type": new("uint16_t[]", [r.type for r in recs]),
            "cpu": new("uint16_t[]", [r.cpu for r in recs]),
            "seq": new("uint64_t[]", [r.seq for r in recs]),
            "block_off": new("uint64_t[]", [r.offset for r in recs]),
        }

    def columns(self) -> dict[str, int]:
        return {name: int(_ffi.cast("uintptr_t", a)) for name, a in self._arrays.items()}


#: the stats of the latest print_default call (the bench and the tests read it)
last_stats: PrinterStats | None = None


def print_default(insp: Any, render: Callable[[Any], str | None], out: IO[str],
                  internal: frozenset[int], limit: int) -> PrinterStats:
    """``sinsp.sysdig_cli._print_prefiltered`` for the default format, with the C printer:
    the same text written to ``out``.  ``insp`` must read a capture through the C scanner
    (``insp.source.raw_batches``); ``render`` is the default-format ``Formatter.render``."""
    if _lib is None:
        raise ImportError(_import_error)
    run = _Run(insp, render, out, internal, limit)
    threads = insp.threads
    old_listener = threads.listener
    threads.listener = run.on_thread_change
    try:
        insp.apply_pending()
        run.run(insp.source.raw_batches())
        run.flush()
        run.stats.python_events = run.n_python
        run.stats.c_lines = int(run.p.n_c)
        run.stats.misses = int(run.p.n_misses)
        cs = _ffi.new("pr_cache_counts *")
        _lib.pr_cache_stats(run.p, cs)
        st = run.stats
        st.tid_slots, st.tid_live, st.tid_deleted = cs.tid_slots, cs.tid_live, cs.tid_deleted
        st.pids, st.drop_visits = cs.pids, cs.drop_visits
    finally:
        threads.listener = old_listener
        run.close()
    global last_stats
    last_stats = run.stats
    return run.stats
