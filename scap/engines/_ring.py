"""What the live engines (`bpf.BpfSource`, `kmod.KmodSource`) share: the error and counter
types, the state syscall set, the per-syscall table, and `RingSource`, the batch-draining
source both are built on.

Both drivers write records in the capture layout (driver/bpf/events.h) and both C drains have
the same shape: records back to back in a buffer owned by the source, with side arrays of
offsets and cpus.  So turning a drained batch into `EventRecord`s, iterating, the /proc
snapshot and the drop-manager counters are written once, here; a subclass only says how to
open, configure, drain and read its driver's counters.
"""
from __future__ import annotations

import errno as _errno
import gc
import importlib
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from scap.engines._syscalls_x86_64 import X86_64_SYSCALLS
from scap.errors import NativeError
from scap.record import EventRecord

__all__ = [
    "STATE_SYSCALLS",
    "DriverCounters",
    "DriverError",
    "RawBatch",
    "RingSource",
    "RingStatsBase",
    "load_native",
    "syscall_table",
]

_HDR = struct.Struct("<QqIHI")

#: Syscalls the state layer needs whatever the rules ask for (threads, fds, cwd,
#: credentials, namespaces), like libs' "sinsp state" set; "procexit" is the
#: sched_process_exit record.
STATE_SYSCALLS: frozenset[str] = frozenset({
    "procexit", "clone", "clone3", "fork", "vfork", "execve", "execveat",
    "open", "openat", "openat2", "creat", "close", "close_range",
    "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen",
    "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl", "eventfd", "eventfd2",
    "signalfd", "signalfd4", "inotify_init", "inotify_init1", "timerfd_create",
    "epoll_create", "epoll_create1", "memfd_create", "userfaultfd", "pidfd_open",
    "pidfd_getfd", "io_uring_setup", "bpf",
    "chdir", "fchdir", "chroot", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "capset", "setns", "unshare", "setpgid", "setsid",
    "prctl", "mount", "umount2",
})


class DriverError(NativeError):
    """The driver could not be built, loaded, attached, opened or read.

    `errno` is the positive errno (EPERM: not root; ENOENT: no BTF, no probe object or no
    device; ENOSYS: BPF disabled; EACCES/EINVAL/E2BIG: rejected by the verifier, see `log`).
    """

    def __init__(self, rc: int, stage: str, message: str, log: str = "") -> None:
        super().__init__(rc, stage, message)
        self.errno = abs(rc)
        self.log = log

    def __str__(self) -> str:
        text = super().__str__()
        if self.log:
            tail = self.log[-4000:]
            text += "\n--- libbpf / verifier log (tail) ---\n" + tail
        return text


@dataclass(frozen=True, slots=True)
class DriverCounters:
    """scap_stats-shaped counters (`n_evts` includes `n_drops`); `detail` uses Falco's names."""

    n_evts: int
    n_drops: int
    detail: dict[str, int]


def _ppm_sc_codes() -> dict[str, int]:
    """Syscall name -> PPM_SC code (the first code of a name in the schema's table)."""
    from scap import schema

    codes: dict[str, int] = {}
    for code, name in enumerate(schema.SYSCALL_NAMES):
        if name and name not in codes:
            codes[name] = code
    return codes


def syscall_table(syscalls: Iterable[str] | None, with_state: bool, size: int
                  ) -> tuple[bytes, bytes, set[str] | None]:
    """A driver's per-syscall table for a set of names (`evt.type` names plus "procexit";
    None: everything): (`interesting`, `size` bytes; `ppm_sc`, `size` little-endian u16; the
    effective name set).  The last slot enables procexit; the PPM_SC codes name generic
    events.  `STATE_SYSCALLS` are added when `with_state`."""
    wanted = None if syscalls is None else set(syscalls)
    if wanted is not None and with_state:
        wanted |= STATE_SYSCALLS
    procexit_slot = size - 1
    interesting = bytearray(size)
    ppm_sc = [0] * size
    codes = _ppm_sc_codes()
    for name, nr in X86_64_SYSCALLS.items():
        if nr >= procexit_slot:
            continue
        ppm_sc[nr] = codes.get(name, 0)
        if wanted is None or name in wanted:
            interesting[nr] = 1
    interesting[procexit_slot] = 1 if wanted is None or "procexit" in wanted else 0
    return bytes(interesting), struct.pack(f"<{size}H", *ppm_sc), wanted


def load_native(module: str, hint: str) -> tuple[Any, Any]:
    """The `(ffi, lib)` of a cffi extension (`scap._bpf_native`, `scap._kmod_native`), or a
    DriverError (ENOENT, stage "import") saying how to build it."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise DriverError(-_errno.ENOENT, "import",
                          f"{module} is not built ({exc}); {hint}") from exc
    return mod.ffi, mod.lib


class RingStatsBase:
    """What every engine's stats dataclass shares: `drops` is the ring-full count (the drops
    Falco's drop manager acts on).  Subclasses declare `drops_buffer` among their fields."""

    __slots__ = ()
    drops_buffer: int

    @property
    def drops(self) -> int:
        return self.drops_buffer


class RawBatch:
    """A drained batch as bytes, before any record is built (`RingSource.next_raw_batch`):
    `data` (records back to back), `offsets` (`n` native u32: each record's start in `data`)
    and `cpus` (`n` native u16).  A consumer that builds records from it calls
    `RingSource.records_from_raw`, or counts what it took with `RingSource.account_raw`."""

    __slots__ = ("cpus", "data", "n", "offsets")

    def __init__(self, data: bytes, offsets: bytes, cpus: bytes, n: int) -> None:
        self.data = data
        self.offsets = offsets
        self.cpus = cpus
        self.n = n


_EMPTY_RAW = RawBatch(b"", b"", b"", 0)


def _from_snapshot(name: str) -> property:
    """A read-only attribute of the source taken from its /proc snapshot."""
    return property(lambda self: getattr(self.snapshot(), name),
                    doc=f"`{name}` of the /proc snapshot, shaped like a capture's.")


class RingSource:
    """Base of the live sources: batch buffers, draining into records, iteration, the /proc
    snapshot and `driver_stats()`.

    A subclass sets `_native` (returns its cffi `(ffi, lib)`, raising DriverError when the
    extension is not built) and implements the driver calls: `_open_handle()` (the C handle
    and its error buffer), `_start()` (configure and start, after the syscall table is set),
    `_close_handle()`, `_set_syscalls(...)`, `_drain(timeout_ms)` (the C drain into the
    buffers of `_alloc_batch`), `stats()` (with `events`, `drops_buffer`) and
    `_drop_detail(stats)` (Falco's names for its drop causes).
    """

    _native: Callable[[], tuple[Any, Any]]

    def __init__(self, syscalls: Iterable[str] | None, with_state: bool, drop_self: bool,
                 batch_bytes: int, max_batch: int, poll_timeout_ms: int) -> None:
        self._syscalls = None if syscalls is None else set(syscalls)
        self._with_state = with_state
        self._drop_self = drop_self
        self._batch_bytes = max(batch_bytes, 1 << 17)
        self._max_batch = max_batch
        self._timeout = poll_timeout_ms
        self._h: Any = None
        self._lock = threading.Lock()
        self._stopped = False
        self._delivered = 0
        self._decode_errors = 0
        self._snapshot: Any = None

    # -- subclass hooks ------------------------------------------------------------------
    def _open_handle(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _close_handle(self) -> None:
        raise NotImplementedError

    def stats(self) -> Any:
        raise NotImplementedError

    def _drain(self, timeout_ms: int) -> int:
        raise NotImplementedError

    def _drop_detail(self, st: Any) -> dict[str, int]:
        raise NotImplementedError

    def _set_syscalls(self, interesting: Any, ppm_sc: Any, n: int) -> int:
        """Send the per-syscall table (`uint8_t *`, `uint16_t *`, slots) to the driver."""
        raise NotImplementedError

    # -- configuration -------------------------------------------------------------------
    def set_interesting(self, syscalls: Iterable[str] | None) -> None:
        """Set the in-kernel filter: record only these syscalls (names as `evt.type`, plus
        "procexit"); None records every syscall.  Can be called while capturing (SIGHUP);
        before `open()` it only sets what `open()` will send."""
        if self._h is None:
            self._syscalls = None if syscalls is None else set(syscalls)
            return
        ffi, lib = self._native()
        n = lib.SCAP_MAX_SYSCALLS
        interesting, ppm_sc, wanted = syscall_table(syscalls, self._with_state, n)
        self._check(self._set_syscalls(ffi.from_buffer("uint8_t[]", interesting),
                                       ffi.cast("uint16_t *", ffi.from_buffer(ppm_sc)), n),
                    "set_interesting")
        self._syscalls = wanted

    # -- shared lifecycle ----------------------------------------------------------------
    def open(self) -> Self:
        """Open the driver, send the syscall table and start recording (a no-op when open).
        Raises DriverError; a failure after the handle is open closes it again."""
        if self._h is not None:
            return self
        self._h, err = self._open_handle()
        self._alloc_batch(err)
        try:
            self.set_interesting(self._syscalls)
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop recording and release the driver (idempotent, thread-safe)."""
        with self._lock:
            if self._h is not None:
                self._close_handle()
                self._h = None

    def _alloc_batch(self, err: Any) -> None:
        """Keep the error buffer and allocate the drain buffer and its side arrays (once per
        open: the C drain fills them, each batch is copied out before the next drain)."""
        ffi = self._native()[0]
        self._err = err
        self._buf = ffi.new("uint8_t[]", self._batch_bytes)
        self._offsets = ffi.new("uint32_t[]", self._max_batch)
        self._cpus = ffi.new("uint16_t[]", self._max_batch)
        self._used = ffi.new("size_t *")

    def stop(self) -> None:
        """Make a running iteration end after its current batch (thread-safe)."""
        self._stopped = True

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, rc: int, stage: str) -> None:
        if rc < 0:
            ffi = self._native()[0]
            raise DriverError(rc, stage, ffi.string(self._err).decode(errors="replace"))

    def _require_open(self, stage: str) -> None:
        if self._h is None:
            raise DriverError(-_errno.EBADF, stage, "source is not open")

    def _kernel_stats(self, struct_name: str, get: Callable[..., int]) -> Any:
        """The driver's counters: `get(handle, struct *, err)` into a new `struct_name`."""
        ffi = self._native()[0]
        self._require_open("stats")
        st = ffi.new(f"struct {struct_name} *")
        self._check(get(self._h, st, self._err), "stats")
        return st

    # -- events --------------------------------------------------------------------------
    def next_batch(self, timeout_ms: int | None = None) -> list[EventRecord]:
        """Drain what the driver holds now (waiting up to `timeout_ms` if it is empty)."""
        ffi = self._native()[0]
        self._require_open("drain")
        n = self._drain(self._timeout if timeout_ms is None else timeout_ms)
        self._check(n, "drain")
        if n == 0:
            return []
        return self._records(bytes(ffi.buffer(self._buf, self._used[0])),
                             ffi.unpack(self._offsets, n), ffi.unpack(self._cpus, n))

    def next_raw_batch(self, timeout_ms: int | None = None) -> RawBatch:
        """`next_batch` without the records: the drained bytes, offsets and cpus (copies, so
        the next drain does not overwrite them); `n` is 0 when idle.  For a consumer that
        decides in one C call which records become `EventRecord`s (sinsp's live hot path)."""
        ffi = self._native()[0]
        self._require_open("drain")
        n = self._drain(self._timeout if timeout_ms is None else timeout_ms)
        self._check(n, "drain")
        if n == 0:
            return _EMPTY_RAW
        return RawBatch(bytes(ffi.buffer(self._buf, self._used[0])),
                        bytes(ffi.buffer(self._offsets, 4 * n)),
                        bytes(ffi.buffer(self._cpus, 2 * n)), n)

    def records_from_raw(self, raw: RawBatch) -> list[EventRecord]:
        """The records `next_batch` would have returned for this batch (counted the same)."""
        if raw.n == 0:
            return []
        return self._records(raw.data, memoryview(raw.offsets).cast("I").tolist(),
                             memoryview(raw.cpus).cast("H").tolist())

    def account_raw(self, delivered: int, decode_errors: int) -> None:
        """Count records a raw-batch consumer took (`delivered`, as `stats()` reports them)
        and skipped as malformed, as `next_batch` counts its own."""
        self._delivered += delivered
        self._decode_errors += decode_errors

    def raw_batches(self) -> Iterator[RawBatch]:
        """`batches()` as raw batches (empty ones too) until `stop()`."""
        if self._h is None:
            self.open()
        self._stopped = False
        while not self._stopped:
            yield self.next_raw_batch()

    def _records(self, data: bytes, offsets: list[int], cpus: list[int]) -> list[EventRecord]:
        """Records (cpu set, dump_flags 0) from a drained buffer; a record whose header does
        not fit is counted in `decode_errors` and skipped.  Each record is a `bytes` copy,
        so none points into memory the next drain overwrites."""
        out: list[EventRecord] = []
        append = out.append
        unpack = _HDR.unpack_from
        size = len(data)
        # Tens of thousands of new acyclic objects per batch would trigger the cyclic GC
        # over and over (measured: ~40% of the drain's time); it runs again after the batch.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for off, cpu in zip(offsets, cpus, strict=True):
                ts, tid, ln, etype, npar = unpack(data, off)
                if ln < 26 or off + ln > size or 26 + 2 * npar > ln:
                    self._decode_errors += 1
                    continue
                append(EventRecord(ts, tid, cpu, etype, 0, npar, data[off:off + ln]))
        finally:
            if gc_was_on:
                gc.enable()
        self._delivered += len(out)
        return out

    def batches(self) -> Iterator[list[EventRecord]]:
        """Successive batches until `stop()`; empty batches are yielded too, so a consumer
        can do periodic work (drop checks, timers) while the system is idle."""
        self._stopped = False
        while not self._stopped:
            yield self.next_batch()

    def __iter__(self) -> Iterator[EventRecord]:
        if self._h is None:
            self.open()
        for batch in self.batches():
            yield from batch

    # -- initial state, shaped like a capture's metadata ---------------------------------
    def snapshot(self) -> Any:
        """The /proc snapshot (`scap.platform.procfs.Snapshot`), taken once, *after* the
        driver is recording so that no process started in between is missed (as libscap
        does)."""
        if self._snapshot is None:
            if self._h is None:
                self.open()
            from scap.platform import procfs

            self._snapshot = procfs.snapshot()
        return self._snapshot

    machine = _from_snapshot("machine")
    processes = _from_snapshot("processes")
    interfaces = _from_snapshot("interfaces")
    users = _from_snapshot("users")
    groups = _from_snapshot("groups")

    def driver_stats(self) -> DriverCounters:
        """Counters in scap_stats terms for the drop manager: `n_evts` counts every record
        the driver tried to emit (drops included), `n_drops` the lost ones."""
        st = self.stats()
        return DriverCounters(n_evts=st.events + st.drops_buffer, n_drops=st.drops_buffer,
                              detail=self._drop_detail(st))
