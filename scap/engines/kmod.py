"""Live capture from the pyfalco kernel module (driver/kmod) as `scap.EventRecord`s.

    from scap.engines.kmod import KmodSource
    with KmodSource(syscalls={"openat", "execve", "procexit"}) as src:
        for rec in src:            # EventRecord, exit-only records in the scap layout
            ...
        src.stats()                # KmodStats: events, drops (per cause), decode errors

The module writes the same records as the eBPF probe (driver/bpf/events.h layouts) into one
ring per CPU, mapped from /dev/pyfalco<N>.  As with `BpfSource`, crossing into C happens once
per batch: `scap_kmod_drain` merges the rings by timestamp into a buffer owned by this
object, and each batch becomes `bytes`-backed records before the next drain.

Errors: `DriverError` (shared with the BPF engine) with `errno` and `stage`; a missing device
(module not loaded) is ENOENT at stage "open", with the device path in the message.
"""
from __future__ import annotations

import errno as _errno
import gc
import os
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from scap.engines._syscalls_x86_64 import X86_64_SYSCALLS
from scap.engines.bpf import (
    STATE_SYSCALLS,
    DriverCounters,
    DriverError,
    syscalls_for_event_types,
)
from scap.record import EventRecord

__all__ = [
    "DEVICE_PREFIX",
    "MAX_SYSCALLS",
    "PROCEXIT_SLOT",
    "DriverError",
    "KmodSource",
    "KmodStats",
    "syscall_table",
    "syscalls_for_event_types",
]

#: Device path without the cpu number (the module creates /dev/pyfalco0..N-1).
DEVICE_PREFIX = "/dev/pyfalco"
#: Size of the module's per-syscall table and the slot that enables procexit
#: (driver/bpf/events.h: SCAP_MAX_SYSCALLS, SCAP_PROCEXIT_SLOT).
MAX_SYSCALLS = 512
PROCEXIT_SLOT = MAX_SYSCALLS - 1
_HDR = struct.Struct("<QqIHI")


@dataclass(frozen=True, slots=True)
class KmodStats:
    """Counters since open, summed over the rings: `events` records written by the module,
    `drops_buffer` records lost because a ring was full, `drops_size` records whose params
    were emptied for size, `drops_pf` params left empty because user memory was not
    resident, `delivered` records handed to the caller, `decode_errors` malformed records
    skipped, `ncpus` rings, `ring_size` bytes per ring."""

    events: int
    drops_buffer: int
    drops_size: int
    drops_pf: int
    delivered: int
    decode_errors: int
    ncpus: int
    ring_size: int

    @property
    def drops(self) -> int:
        return self.drops_buffer


def _lib() -> tuple[Any, Any]:
    try:
        from scap._kmod_native import ffi, lib
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise DriverError(-_errno.ENOENT, "import",
                          f"scap._kmod_native is not built ({exc}); "
                          "run `pip install -e .`") from exc
    return ffi, lib


def _ppm_sc_codes() -> dict[str, int]:
    """Syscall name -> PPM_SC code (the first code of a name in the schema's table)."""
    from scap import schema

    codes: dict[str, int] = {}
    for code, name in enumerate(schema.SYSCALL_NAMES):
        if name and name not in codes:
            codes[name] = code
    return codes


def syscall_table(syscalls: Iterable[str] | None, with_state: bool = True
                  ) -> tuple[bytes, bytes, set[str] | None]:
    """The module's syscall table for a set of names (`evt.type` names plus "procexit"; None:
    everything): (`interesting` MAX_SYSCALLS bytes, `ppm_sc` MAX_SYSCALLS little-endian u16,
    the effective name set).  The PPM_SC codes name generic events, as in the BPF probe."""
    wanted = None if syscalls is None else set(syscalls)
    if wanted is not None and with_state:
        wanted |= STATE_SYSCALLS
    interesting = bytearray(MAX_SYSCALLS)
    ppm_sc = [0] * MAX_SYSCALLS
    codes = _ppm_sc_codes()
    for name, nr in X86_64_SYSCALLS.items():
        if nr >= PROCEXIT_SLOT:
            continue
        ppm_sc[nr] = codes.get(name, 0)
        if wanted is None or name in wanted:
            interesting[nr] = 1
    interesting[PROCEXIT_SLOT] = 1 if wanted is None or "procexit" in wanted else 0
    return bytes(interesting), struct.pack(f"<{MAX_SYSCALLS}H", *ppm_sc), wanted


class KmodSource:
    """A live event source on the pyfalco kernel module.  Use as a context manager.

    Same interface as `scap.engines.bpf.BpfSource`: `syscalls` (None: all; the state set is
    added unless `with_state=False`), `drop_self`, `next_batch`, iteration, `stop`, the
    procfs snapshot properties, `stats()` and `driver_stats()`.  `device_prefix` selects the
    devices (default /dev/pyfalco)."""

    def __init__(self, syscalls: Iterable[str] | None = None, *, with_state: bool = True,
                 device_prefix: str = DEVICE_PREFIX, drop_self: bool = False,
                 batch_bytes: int = 4 << 20, max_batch: int = 65536,
                 poll_timeout_ms: int = 50) -> None:
        self._syscalls = None if syscalls is None else set(syscalls)
        self._with_state = with_state
        self._prefix = device_prefix
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

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> KmodSource:
        """Open and map every CPU's device, set the syscall table and start recording."""
        if self._h is not None:
            return self
        ffi, lib = _lib()
        err = ffi.new("char[]", 256)
        hp = ffi.new("struct scap_kmod **")
        rc = lib.scap_kmod_open(self._prefix.encode(), hp, err)
        if rc:
            raise DriverError(rc, "open", ffi.string(err).decode(errors="replace"))
        self._h = hp[0]
        self._err = err
        self._buf = ffi.new("uint8_t[]", self._batch_bytes)
        self._offsets = ffi.new("uint32_t[]", self._max_batch)
        self._cpus = ffi.new("uint16_t[]", self._max_batch)
        self._used = ffi.new("size_t *")
        try:
            self.set_interesting(self._syscalls)
            self._check(lib.scap_kmod_set_drop_tgid(self._h, os.getpid() if self._drop_self
                                                    else 0, err), "config")
            self._check(lib.scap_kmod_start(self._h, err), "start")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop recording and release the devices (idempotent)."""
        with self._lock:
            if self._h is not None:
                _ffi, lib = _lib()
                lib.scap_kmod_stop(self._h, self._err)
                lib.scap_kmod_close(self._h)
                self._h = None

    def stop(self) -> None:
        """Make a running iteration end after its current batch (thread-safe)."""
        self._stopped = True

    def __enter__(self) -> KmodSource:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, rc: int, stage: str) -> None:
        if rc < 0:
            ffi, _ = _lib()
            raise DriverError(rc, stage, ffi.string(self._err).decode(errors="replace"))

    # -- configuration -------------------------------------------------------------------
    def set_interesting(self, syscalls: Iterable[str] | None) -> None:
        """Set the in-kernel filter (names as `evt.type`, plus "procexit"; None: all).
        Can be called while capturing (SIGHUP)."""
        if self._h is None:
            self._syscalls = None if syscalls is None else set(syscalls)
            return
        ffi, lib = _lib()
        interesting, ppm_sc, wanted = syscall_table(syscalls, self._with_state)
        self._check(lib.scap_kmod_set_syscalls(
            self._h, ffi.from_buffer("uint8_t[]", interesting),
            ffi.cast("uint16_t *", ffi.from_buffer(ppm_sc)), MAX_SYSCALLS, self._err),
            "set_interesting")
        self._syscalls = wanted

    # -- events --------------------------------------------------------------------------
    def next_batch(self, timeout_ms: int | None = None) -> list[EventRecord]:
        """Drain what the rings hold now (waiting up to `timeout_ms` if they are empty)."""
        ffi, lib = _lib()
        if self._h is None:
            raise DriverError(-_errno.EBADF, "drain", "source is not open")
        n = lib.scap_kmod_drain(self._h, self._buf, self._batch_bytes, self._offsets,
                                self._cpus, self._max_batch,
                                self._timeout if timeout_ms is None else timeout_ms,
                                self._used, self._err)
        self._check(n, "drain")
        if n == 0:
            return []
        return self._records(bytes(ffi.buffer(self._buf, self._used[0])),
                             ffi.unpack(self._offsets, n), ffi.unpack(self._cpus, n))

    def _records(self, data: bytes, offsets: list[int], cpus: list[int]) -> list[EventRecord]:
        out: list[EventRecord] = []
        append = out.append
        unpack = _HDR.unpack_from
        size = len(data)
        gc_was_on = gc.isenabled()
        gc.disable()  # many acyclic objects per batch: see BpfSource.next_batch
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
        """Successive batches until `stop()`; empty batches are yielded too."""
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
        """The /proc snapshot, taken once after recording started (as libscap does)."""
        if self._snapshot is None:
            if self._h is None:
                self.open()
            from scap.platform import procfs

            self._snapshot = procfs.snapshot()
        return self._snapshot

    @property
    def machine(self) -> Any:
        return self.snapshot().machine

    @property
    def processes(self) -> Any:
        return self.snapshot().processes

    @property
    def interfaces(self) -> Any:
        return self.snapshot().interfaces

    @property
    def users(self) -> Any:
        return self.snapshot().users

    @property
    def groups(self) -> Any:
        return self.snapshot().groups

    def driver_stats(self) -> DriverCounters:
        """scap_stats-shaped counters for the drop manager (`n_evts` includes drops)."""
        st = self.stats()
        return DriverCounters(n_evts=st.events + st.drops_buffer, n_drops=st.drops_buffer,
                              detail={"n_drops_buffer_total": st.drops_buffer,
                                      "n_drops_page_faults": st.drops_pf,
                                      "n_drops_scratch_map": st.drops_size})

    def stats(self) -> KmodStats:
        """The rings' counters summed, plus the user-side ones."""
        ffi, lib = _lib()
        if self._h is None:
            raise DriverError(-_errno.EBADF, "stats", "source is not open")
        st = ffi.new("struct scap_kmod_stats *")
        self._check(lib.scap_kmod_get_stats(self._h, st, self._err), "stats")
        return KmodStats(events=st.n_evts, drops_buffer=st.n_drops_buffer,
                         drops_size=st.n_drops_size, drops_pf=st.n_drops_pf,
                         delivered=self._delivered, decode_errors=self._decode_errors,
                         ncpus=st.ndevs, ring_size=st.ring_size)
