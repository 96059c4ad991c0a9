"""Live capture from our CO-RE eBPF probe (driver/bpf) as `scap.EventRecord`s.

    from scap.engines.bpf import BpfSource
    with BpfSource(syscalls={"openat", "execve", "procexit"}) as src:
        for rec in src:            # EventRecord, exit-only records in the scap layout
            ...
        src.stats()                # BpfStats: events, drops (per cause), decode errors

The probe writes each record in the same layout as a capture file's event records, so the
records come out of the ring exactly as they would come out of a file.  Crossing into C
happens once per *batch*: `scap_bpf_drain` copies many records into one buffer that belongs
to this object; each batch is turned into records (a `bytes` copy, so a record never points
into memory the next drain overwrites) before the next drain.

Errors: `DriverError` (a `scap.NativeError`) with `errno`, `stage` and, for a probe the
verifier rejected, its `log`.
"""
from __future__ import annotations

import errno as _errno
import gc
import os
import struct
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scap.engines._syscalls_x86_64 import X86_64_SYSCALLS
from scap.errors import NativeError
from scap.record import EventRecord

__all__ = [
    "STATE_SYSCALLS",
    "BpfSource",
    "BpfStats",
    "DriverCounters",
    "DriverError",
    "find_probe",
    "readable_by_sysdig_0_29_3",
    "syscalls_for_event_types",
]

_REPO = Path(__file__).resolve().parents[2]
_DEFAULT_PROBE = _REPO / "driver" / "bpf" / ".output" / "probe.bpf.o"
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
    """The probe could not be built, loaded, attached or read.

    `errno` is the positive errno (EPERM: not root; ENOENT: no BTF or no probe object;
    ENOSYS: BPF disabled; EACCES/EINVAL/E2BIG: rejected by the verifier, see `log`).
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
class BpfStats:
    """Counters since open: `events` records submitted by the probe, `drops_buffer` records
    lost because the ring was full, `drops_size` records truncated for size, `delivered`
    records handed to the caller, `decode_errors` malformed records skipped."""

    events: int
    drops_buffer: int
    drops_size: int
    delivered: int
    decode_errors: int
    ncpus: int

    @property
    def drops(self) -> int:
        return self.drops_buffer


@dataclass(frozen=True, slots=True)
class DriverCounters:
    """scap_stats-shaped counters (`n_evts` includes `n_drops`); `detail` uses Falco's names."""

    n_evts: int
    n_drops: int
    detail: dict[str, int]


def _lib() -> tuple[Any, Any]:
    try:
        from scap._bpf_native import ffi, lib
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise DriverError(-_errno.ENOENT, "import",
                          f"scap._bpf_native is not built ({exc}); run `pip install -e .` "
                          "with libbpf-dev installed") from exc
    return ffi, lib


def find_probe(path: str | os.PathLike[str] | None = None, build: bool = True) -> Path:
    """The probe object: `path`, $PYFALCO_BPF_PROBE, or driver/bpf/.output/probe.bpf.o.

    For the default object, with the sources present, `make -C driver/bpf` runs first (quick
    when up to date), so an object older than its sources (e.g. another API version) is
    rebuilt rather than refused."""
    explicit = path is not None or bool(os.environ.get("PYFALCO_BPF_PROBE"))
    p = Path(path if path is not None else (os.environ.get("PYFALCO_BPF_PROBE") or _DEFAULT_PROBE))
    makefile = _REPO / "driver" / "bpf" / "Makefile"
    if build and not explicit and makefile.exists():
        res = subprocess.run(["make", "-s", "-C", str(makefile.parent)],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0 and not p.exists():
            raise DriverError(-_errno.ENOENT, "build",
                              f"building the probe failed (make -C {makefile.parent})",
                              res.stdout + res.stderr)
    if p.exists():
        return p
    raise DriverError(-_errno.ENOENT, "open", f"probe object {p} not found")


def _ppm_sc_codes() -> dict[str, int]:
    from scap import schema

    codes: dict[str, int] = {}
    for code, name in enumerate(schema.SYSCALL_NAMES):
        if name and name not in codes:
            codes[name] = code
    return codes


def readable_by_sysdig_0_29_3(rec: EventRecord) -> bool:
    """Whether sysdig 0.29.3 can take this live record in a capture file.

    The probe uses current libs' numbering.  Measured with sysdig 0.29.3: it stops reading a
    file at an event type beyond its table (336 types) and crashes (SIGSEGV) on a generic
    event whose PPM_SC id is beyond its syscall table (e.g. close_range).  A recording meant
    for it must leave those records out (or convert them)."""
    from scap import schema

    if rec.type >= schema.EVENT_INFO_0_29_3_COUNT:
        return False
    if rec.type in (0, 1) and rec.nparams >= 1:
        (sc,) = struct.unpack_from("<H", rec.raw, 26 + 2 * rec.nparams)
        return sc < len(schema.SYSCALL_NAMES_0_29_3)
    return True


def syscalls_for_event_types(event_types: Iterable[int] | None) -> set[str] | None:
    """Syscall names behind a set of PPME event types (a compiled filter's `event_types`).
    None (any event) stays None; the generic types 0/1 mean "any syscall", so None too."""
    if event_types is None:
        return None
    from scap import schema

    out: set[str] = set()
    for t in event_types:
        if t in (0, 1):
            return None
        name = schema.event_name(t)
        if name in X86_64_SYSCALLS or name == "procexit":
            out.add(name)
        if name == "accept":
            out.add("accept4")
    return out


class BpfSource:
    """A live event source on the pyfalco probe.  Use as a context manager.

    `syscalls`: names to record (None: all); the state set `STATE_SYSCALLS` is always added
    unless `with_state=False`.  `drop_self`: ignore this process's own syscalls.
    `ring_bytes`: ring buffer size (power of two).  `batch_bytes`/`max_batch`: the drain buffer.
    `snaplen`: bytes of I/O data kept per record (sysdig's `-s`, default 80, at most 256).
    """

    def __init__(self, syscalls: Iterable[str] | None = None, *, with_state: bool = True,
                 probe: str | os.PathLike[str] | None = None, ring_bytes: int = 16 << 20,
                 drop_self: bool = False, batch_bytes: int = 4 << 20,
                 max_batch: int = 65536, poll_timeout_ms: int = 50, snaplen: int = 80) -> None:
        self._syscalls = None if syscalls is None else set(syscalls)
        self._with_state = with_state
        self._probe_arg = probe
        self._ring_bytes = ring_bytes
        self._drop_self = drop_self
        self._batch_bytes = max(batch_bytes, 1 << 17)
        self._max_batch = max_batch
        self._timeout = poll_timeout_ms
        self._snaplen = max(0, min(snaplen, 256))
        self._h: Any = None
        self._lock = threading.Lock()
        self._stopped = False
        self._delivered = 0
        self._decode_errors = 0
        self.boot_time_ns = 0
        self.probe_path: Path | None = None
        self._snapshot: Any = None

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> BpfSource:
        """Load, configure and attach the probe.  Raises DriverError."""
        if self._h is not None:
            return self
        ffi, lib = _lib()
        self.probe_path = find_probe(self._probe_arg)
        err = ffi.new("char[]", 256)
        log = ffi.new("char[]", 1 << 20)
        hp = ffi.new("struct scap_bpf **")
        rc = lib.scap_bpf_open(str(self.probe_path).encode(), self._ring_bytes, hp, err,
                               log, 1 << 20)
        if rc:
            raise DriverError(rc, "load", ffi.string(err).decode(errors="replace"),
                              ffi.string(log).decode(errors="replace"))
        self._h = hp[0]
        self._err = err
        self._buf = ffi.new("uint8_t[]", self._batch_bytes)
        self._offsets = ffi.new("uint32_t[]", self._max_batch)
        self._cpus = ffi.new("uint16_t[]", self._max_batch)
        self._used = ffi.new("size_t *")
        try:
            self.set_interesting(self._syscalls)
            self.boot_time_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
            self._check(lib.scap_bpf_set_config(self._h, self.boot_time_ns,
                                                os.getpid() if self._drop_self else 0, 1,
                                                self._snaplen, err),
                        "config")
            self._check(lib.scap_bpf_attach(self._h, err), "attach")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Detach and unload (idempotent)."""
        with self._lock:
            if self._h is not None:
                _ffi, lib = _lib()
                lib.scap_bpf_close(self._h)
                self._h = None

    def stop(self) -> None:
        """Make a running iteration end after its current batch (thread-safe)."""
        self._stopped = True

    def __enter__(self) -> BpfSource:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, rc: int, stage: str) -> None:
        if rc < 0:
            ffi = _lib()[0]
            raise DriverError(rc, stage, ffi.string(self._err).decode(errors="replace"))

    # -- configuration -------------------------------------------------------------------
    def set_interesting(self, syscalls: Iterable[str] | None) -> None:
        """Set the in-kernel filter: record only these syscalls (names as `evt.type`, plus
        "procexit"); None records every syscall.  Can be called while capturing (SIGHUP)."""
        ffi, lib = _lib()
        if self._h is None:
            self._syscalls = None if syscalls is None else set(syscalls)
            return
        wanted = None if syscalls is None else set(syscalls)
        if wanted is not None and self._with_state:
            wanted |= STATE_SYSCALLS
        n = lib.SCAP_MAX_SYSCALLS
        interesting = ffi.new("uint8_t[]", n)
        ppm_sc = ffi.new("uint16_t[]", n)
        codes = _ppm_sc_codes()
        for name, nr in X86_64_SYSCALLS.items():
            if nr >= n - 1:
                continue
            ppm_sc[nr] = codes.get(name, 0)
            if wanted is None or name in wanted:
                interesting[nr] = 1
        interesting[lib.SCAP_PROCEXIT_SLOT] = 1 if wanted is None or "procexit" in wanted else 0
        self._check(lib.scap_bpf_set_syscalls(self._h, interesting, ppm_sc, n, self._err),
                    "set_interesting")
        self._syscalls = wanted

    # -- events --------------------------------------------------------------------------
    def next_batch(self, timeout_ms: int | None = None) -> list[EventRecord]:
        """Drain what the ring holds now (waiting up to `timeout_ms` if it is empty)."""
        ffi, lib = _lib()
        if self._h is None:
            raise DriverError(-_errno.EBADF, "drain", "source is not open")
        n = lib.scap_bpf_drain(self._h, self._buf, self._batch_bytes, self._offsets, self._cpus,
                               self._max_batch, self._timeout if timeout_ms is None else timeout_ms,
                               self._used, self._err)
        self._check(n, "drain")
        if n == 0:
            return []
        data = bytes(ffi.buffer(self._buf, self._used[0]))
        offsets = ffi.unpack(self._offsets, n)
        cpus = ffi.unpack(self._cpus, n)
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
        """The /proc snapshot (`scap.platform.procfs.Snapshot`), taken once, *after* the probe
        is attached so that no process started in between is missed (as libscap does)."""
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
        """Counters in scap_stats terms for the drop manager: `n_evts` counts every record
        the probe tried to emit (drops included), `n_drops` the lost ones."""
        st = self.stats()
        return DriverCounters(n_evts=st.events + st.drops_buffer, n_drops=st.drops_buffer,
                              detail={"n_drops_buffer_total": st.drops_buffer,
                                      "n_drops_scratch_map": st.drops_size})

    def stats(self) -> BpfStats:
        """Kernel counters summed over CPUs, plus the user-side ones."""
        ffi, lib = _lib()
        if self._h is None:
            raise DriverError(-_errno.EBADF, "stats", "source is not open")
        st = ffi.new("struct scap_bpf_stats *")
        self._check(lib.scap_bpf_get_stats(self._h, st, self._err), "stats")
        return BpfStats(events=st.n_evts, drops_buffer=st.n_drops_buffer,
                        drops_size=st.n_drops_size, delivered=self._delivered,
                        decode_errors=self._decode_errors, ncpus=st.ncpus)
