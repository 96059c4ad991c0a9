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
import hashlib
import os
import struct
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scap.engines._ring import (
    STATE_SYSCALLS,
    DriverCounters,
    DriverError,
    RingSource,
    RingStatsBase,
    load_native,
)
from scap.engines._syscalls_x86_64 import X86_64_SYSCALLS
from scap.record import EventRecord

__all__ = [
    "DROP_CATEGORIES",
    "STATE_SYSCALLS",
    "BpfSource",
    "BpfStats",
    "DriverCounters",
    "DriverError",
    "ProbeObject",
    "embedded_probe",
    "extras_for",
    "find_probe",
    "readable_by_sysdig_0_29_3",
    "syscalls_for_event_types",
]

_REPO = Path(__file__).resolve().parents[2]
#: The probe's source directory in a source checkout (absent in an installed package).
_PROBE_DIR = _REPO / "driver" / "bpf"
#: Optional programs of the probe, off unless asked for (`BpfSource(extras=...)`).
EXTRAS = {"sched_switch": 1}  # the SCAP_BPF_EXTRA_* bits of scap/_native/bpf_ring.h


#: The probe's drop categories (driver/bpf/events.h `scap_drop_category` order), libs'
#: grouping of the exit events; an exit-only probe has no `*_enter` drops.
DROP_CATEGORIES = ("clone_fork_exit", "execve_exit", "connect_exit", "open_exit",
                   "dir_file_exit", "other_interest_exit", "close_exit", "proc_exit")
#: Falco's enter-side names, always 0 here (kept so the drop alert lists every field)
_ENTER_CATEGORIES = ("clone_fork_enter", "execve_enter", "connect_enter", "open_enter",
                     "dir_file_enter", "other_interest_enter")


@dataclass(frozen=True, slots=True)
class BpfStats(RingStatsBase):
    """Counters since open: `events` records submitted by the probe, `drops_buffer` records
    lost because the ring was full, `drops_size` records truncated for size, `delivered`
    records handed to the caller, `decode_errors` malformed records skipped."""

    events: int
    drops_buffer: int
    drops_size: int
    delivered: int
    decode_errors: int
    ncpus: int
    #: `drops_buffer` by category, Falco's names without the `n_drops_buffer_` prefix
    #: (`DROP_CATEGORIES`); types outside them count only in the total
    drops_by_category: dict[str, int] = field(default_factory=dict)


def _lib() -> tuple[Any, Any]:
    return load_native("scap._bpf_native", "run `pip install -e .` with libbpf-dev installed")


@dataclass(frozen=True, slots=True)
class ProbeObject:
    """The probe object a source will load: a file (`path`) or an ELF image in memory
    (`image`, the copy embedded in the extension).  `origin`: "path" (the caller's),
    "env" ($PYFALCO_BPF_PROBE), "embedded" or "build" (driver/bpf/.output)."""

    origin: str
    path: Path | None = None
    image: bytes | None = field(default=None, repr=False)

    def label(self) -> str:
        return str(self.path) if self.path is not None else f"<{self.origin} probe>"


def embedded_probe() -> tuple[bytes, str]:
    """The probe object embedded in the extension at build time and the sha256 of the built
    object it was made from; (b"", "") when the build had none."""
    ffi, lib = _lib()
    n = ffi.new("size_t *")
    shap = ffi.new("char **")
    ptr = lib.scap_bpf_embedded_probe(n, shap)
    if ptr == ffi.NULL or n[0] == 0:
        return b"", ""
    sha: bytes = ffi.string(shap[0])
    return bytes(ffi.buffer(ptr, n[0])), sha.decode()


def find_probe(path: str | os.PathLike[str] | ProbeObject | None = None,
               build: bool = True) -> ProbeObject:
    """The probe object to load, in this order: `path` (a file, or a `ProbeObject`);
    $PYFALCO_BPF_PROBE (a file, or
    "embedded" to insist on the embedded copy); the copy embedded in the extension; the
    build directory driver/bpf/.output/probe.bpf.o.

    In a source checkout `make -C driver/bpf` runs first (quick when up to date) unless
    `build=False`, and a built object that is not the one the extension embedded (the
    probe was rebuilt since) wins over the embedded copy, so `make probe` takes effect
    without reinstalling.  A missing object is a `DriverError` (stage "open"); a stale or
    foreign one is refused when loading (`DriverError`, stage "load")."""
    if isinstance(path, ProbeObject):
        return path
    if path is not None:
        return _probe_file("path", Path(path))
    env = os.environ.get("PYFALCO_BPF_PROBE")
    if env and env != "embedded":
        return _probe_file("env", Path(env))
    image, sha = embedded_probe()
    if env == "embedded":
        if not image:
            raise DriverError(-_errno.ENOENT, "open",
                              "PYFALCO_BPF_PROBE=embedded but this build embeds no probe object")
        return ProbeObject("embedded", image=image)
    built = _PROBE_DIR / ".output" / "probe.bpf.o"
    makefile = _PROBE_DIR / "Makefile"
    if build and makefile.exists():
        res = subprocess.run(["make", "-s", "-C", str(_PROBE_DIR)],
                             capture_output=True, text=True, check=False)
        if res.returncode != 0 and not built.exists() and not image:
            raise DriverError(-_errno.ENOENT, "build",
                              f"building the probe failed (make -C {_PROBE_DIR})",
                              res.stdout + res.stderr)
    if image and not (makefile.exists() and built.exists()
                      and hashlib.sha256(built.read_bytes()).hexdigest() != sha):
        return ProbeObject("embedded", image=image)
    return _probe_file("build", built)


def _probe_file(origin: str, p: Path) -> ProbeObject:
    if p.exists():
        return ProbeObject(origin, path=p)
    raise DriverError(-_errno.ENOENT, "open", f"probe object {p} not found")


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
        sc: int
        (sc,) = struct.unpack_from("<H", rec.raw, 26 + 2 * rec.nparams)
        return sc < len(schema.SYSCALL_NAMES_0_29_3)
    return True


#: Syscalls the probe gives a dedicated filler (``driver/bpf/probe.bpf.c``'s filler table,
#: kept equal by tests/drivers/test_generic_syscalls.py); every other one is recorded as the
#: generic event (types 0/1, the syscall named by its PPM_SC ``ID``).
FILLED_SYSCALLS = frozenset((
    "accept", "accept4", "bind", "bpf", "capset", "chdir", "chmod", "chroot", "clone", "clone3",
    "close", "close_range", "connect", "creat", "dup", "dup2", "dup3", "epoll_create",
    "epoll_create1", "eventfd", "eventfd2", "execve", "execveat", "fchdir", "fchmod", "fchmodat",
    "fcntl", "finit_module", "fork", "init_module", "inotify_init", "inotify_init1",
    "io_uring_setup", "kill", "link", "linkat", "listen", "memfd_create", "mkdir", "mkdirat",
    "mount", "open", "openat", "openat2", "pidfd_getfd", "pidfd_open", "pipe", "pipe2", "prctl",
    "pread64", "ptrace", "pwrite64", "read", "readv", "recvfrom", "recvmmsg", "recvmsg", "rename",
    "renameat", "renameat2", "rmdir", "sendmmsg", "sendmsg", "sendto", "setgid", "setns",
    "setpgid", "setregid", "setresgid", "setresuid", "setreuid", "setsid", "setuid", "signalfd",
    "signalfd4", "socket", "socketpair", "symlink", "symlinkat", "timerfd_create", "umount2",
    "unlink", "unlinkat", "unshare", "userfaultfd", "vfork", "write", "writev",
))


def generic_syscalls_of(filled: Iterable[str]) -> frozenset[str]:
    """The syscalls with a dedicated event in current libs that a driver filling only
    ``filled`` records as the generic event."""
    from scap import schema

    done = frozenset(filled)
    dedicated = {info.name for info in schema.EVENT_INFO_CURRENT}
    return frozenset(n for n in X86_64_SYSCALLS if n in dedicated and n not in done)


#: Syscalls current libs has a dedicated event for that this probe records as the generic
#: event: a filter or rule naming one must also look at the generic types live (``evt.type``
#: still gives the syscall's name there).  See :func:`widen_for_generic`.
GENERIC_SYSCALLS: frozenset[str] = generic_syscalls_of(FILLED_SYSCALLS)


def widen_for_generic(event_types: Iterable[int] | None) -> frozenset[int] | None:
    """A filter's event types as seen on this probe's records: plus the generic types 0/1
    when a type belongs to a syscall in :data:`GENERIC_SYSCALLS` (None stays None)."""
    if event_types is None:
        return None
    from scap import schema

    types = frozenset(event_types)
    if any(schema.event_name(t) in GENERIC_SYSCALLS for t in types):
        return types | {0, 1}
    return types


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


#: PPME types of the context-switch event (0.29.3's and current libs'): what sched_switch emits
_SWITCH_TYPES = frozenset({146, 152})


def extras_for(event_types: Iterable[int] | None, names: Iterable[str] = ()) -> tuple[str, ...]:
    """The optional probe programs a consumer asks for: "sched_switch" when its event types
    include the switch event (a filter or rule on `evt.type=switch`) or `names` (e.g.
    Falco's `base_syscalls.custom_set`) lists "switch" or "sched_switch".  Never for "any
    event" (None): that would put a cost on every context switch nobody asked for."""
    wanted = set(names)
    if (event_types is not None and _SWITCH_TYPES & set(event_types)) or \
            wanted & {"switch", "sched_switch"}:
        return ("sched_switch",)
    return ()


class BpfSource(RingSource):
    """A live event source on the pyfalco probe.  Use as a context manager.

    `syscalls`: names to record (None: all); the state set `STATE_SYSCALLS` is always added
    unless `with_state=False`.  `drop_self`: ignore this process's own syscalls.
    `ring_bytes`: ring buffer size (power of two).  `batch_bytes`/`max_batch`: the drain buffer.
    `snaplen`: bytes of I/O data kept per record (sysdig's `-s`, default 80, at most 256).
    `extras`: optional probe programs to attach, off by default: "sched_switch" records
    context switches (the `switch` event), a cost on every switch of every CPU.
    `probe`: the object to load (see `find_probe` for the default order).
    `open`/`close`, `set_interesting`, iteration, `next_batch`, `stop`, the snapshot properties
    and `driver_stats()` are `RingSource`'s; this class holds the probe-specific calls.
    """

    _native = staticmethod(_lib)

    def __init__(self, syscalls: Iterable[str] | None = None, *, with_state: bool = True,
                 probe: str | os.PathLike[str] | ProbeObject | None = None,
                 ring_bytes: int = 16 << 20,
                 drop_self: bool = False, batch_bytes: int = 4 << 20,
                 max_batch: int = 65536, poll_timeout_ms: int = 50, snaplen: int = 80,
                 extras: Iterable[str] = ()) -> None:
        super().__init__(syscalls, with_state, drop_self, batch_bytes, max_batch,
                         poll_timeout_ms)
        self._extras = 0
        for name in extras:
            if name not in EXTRAS:
                raise ValueError(f"unknown probe extra {name!r} (known: {', '.join(EXTRAS)})")
            self._extras |= EXTRAS[name]
        self._probe_arg = probe
        self._ring_bytes = ring_bytes
        self._snaplen = max(0, min(snaplen, 256))
        self.boot_time_ns = 0
        self.probe: ProbeObject | None = None
        self.probe_path: Path | None = None

    # -- driver calls behind RingSource ---------------------------------------------------
    def _open_handle(self) -> tuple[Any, Any]:
        """Find (or build) and load the probe; the verifier's log goes into the error."""
        ffi, lib = _lib()
        self.probe = probe = find_probe(self._probe_arg)
        self.probe_path = probe.path
        err = ffi.new("char[]", 256)
        log = ffi.new("char[]", 1 << 20)
        hp = ffi.new("struct scap_bpf **")
        if probe.image is not None:
            rc = lib.scap_bpf_open_mem(probe.image, len(probe.image), probe.label().encode(),
                                       self._ring_bytes, hp, err, log, 1 << 20)
        else:
            rc = lib.scap_bpf_open(str(probe.path).encode(), self._ring_bytes, hp, err,
                                   log, 1 << 20)
        if rc:
            raise DriverError(rc, "load", ffi.string(err).decode(errors="replace"),
                              ffi.string(log).decode(errors="replace"))
        return hp[0], err

    def _start(self) -> None:
        """Configure (boot time, dropped tgid, snaplen) and attach: recording starts."""
        lib = _lib()[1]
        self.boot_time_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        self._check(lib.scap_bpf_set_config(self._h, self.boot_time_ns,
                                            os.getpid() if self._drop_self else 0, 1,
                                            self._snaplen, self._err),
                    "config")
        self._check(lib.scap_bpf_attach(self._h, self._extras, self._err), "attach")

    def _close_handle(self) -> None:
        """Detach and unload."""
        _lib()[1].scap_bpf_close(self._h)

    def _set_syscalls(self, interesting: Any, ppm_sc: Any, n: int) -> int:
        rc: int = _lib()[1].scap_bpf_set_syscalls(self._h, interesting, ppm_sc, n, self._err)
        return rc

    def _drain(self, timeout_ms: int) -> int:
        n: int = _lib()[1].scap_bpf_drain(self._h, self._buf, self._batch_bytes, self._offsets,
                                          self._cpus, self._max_batch, timeout_ms, self._used,
                                          self._err)
        return n

    def _drop_detail(self, st: BpfStats) -> dict[str, int]:
        detail = {"n_drops_buffer_total": st.drops_buffer, "n_drops_scratch_map": st.drops_size}
        for name in _ENTER_CATEGORIES:
            detail[f"n_drops_buffer_{name}"] = 0
        for name, n in st.drops_by_category.items():
            detail[f"n_drops_buffer_{name}"] = n
        return detail

    def stats(self) -> BpfStats:
        """Kernel counters summed over CPUs, plus the user-side ones."""
        st = self._kernel_stats("scap_bpf_stats", _lib()[1].scap_bpf_get_stats)
        return BpfStats(events=st.n_evts, drops_buffer=st.n_drops_buffer,
                        drops_size=st.n_drops_size, delivered=self._delivered,
                        decode_errors=self._decode_errors, ncpus=st.ncpus,
                        drops_by_category=dict(zip(DROP_CATEGORIES, st.n_drops_buffer_cat,
                                                   strict=True)))
