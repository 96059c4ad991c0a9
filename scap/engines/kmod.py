"""Live capture from the pyfalco kernel module (driver/kmod) as `scap.EventRecord`s.

    from scap.engines.kmod import KmodSource
    with KmodSource(syscalls={"openat", "execve", "procexit"}) as src:
        for rec in src:            # EventRecord, exit-only records in the scap layout
            ...
        src.stats()                # KmodStats: events, drops (per cause and category), ...

The module writes the same records as the eBPF probe (driver/bpf/events.h layouts) into one
ring per CPU, mapped from /dev/pyfalco<N>.  As with `BpfSource`, crossing into C happens once
per batch: `scap_kmod_drain` merges the rings by timestamp into a buffer owned by this
object, and each batch becomes `bytes`-backed records before the next drain.

Errors: `DriverError` (shared with the BPF engine) with `errno` and `stage`; a missing device
(module not loaded) is ENOENT at stage "open", with the device path in the message.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from scap.engines import _ring
from scap.engines._ring import DriverError, RingSource, RingStatsBase, load_native
from scap.engines.bpf import _ENTER_CATEGORIES as ENTER_CATEGORIES  # Falco's, always 0 here
from scap.engines.bpf import DROP_CATEGORIES, generic_syscalls_of, syscalls_for_event_types

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


#: Syscalls the kernel module has a filler for (``driver/kmod/main.c``; kept equal by
#: tests/drivers/test_generic_syscalls.py): the eBPF probe's set, in the same layouts; the rest
#: are generic events, and rules naming them must also run on the generic types
#: (``treat_as_generic``).
KMOD_FILLED_SYSCALLS = frozenset((
    "accept", "accept4", "bind", "bpf", "chdir", "chmod", "chroot", "clone", "clone3", "close",
    "connect", "creat", "dup", "dup2", "dup3", "execve", "execveat", "fchdir", "fchmod",
    "fchmodat", "finit_module", "fork", "init_module", "kill", "link", "linkat", "listen",
    "memfd_create", "mkdir", "mkdirat", "mount", "open", "openat", "openat2", "pipe", "pipe2",
    "ptrace", "recvfrom", "rename", "renameat", "renameat2", "rmdir", "sendto", "setgid", "setns",
    "setregid", "setresgid", "setresuid", "setreuid", "setuid", "socket", "symlink", "symlinkat",
    "umount2", "unlink", "unlinkat", "unshare", "vfork",
    # fd-creating and state syscalls (the probe's layouts)
    "capset", "close_range", "epoll_create", "epoll_create1", "eventfd", "eventfd2", "fcntl",
    "inotify_init", "inotify_init1", "io_uring_setup", "pidfd_getfd", "pidfd_open", "prctl",
    "setpgid", "setsid", "signalfd", "signalfd4", "socketpair", "timerfd_create",
    "userfaultfd",
    # I/O (data cut to the snaplen)
    "pread64", "pwrite64", "read", "readv", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg",
    "write", "writev",
))
KMOD_GENERIC_SYSCALLS: frozenset[str] = generic_syscalls_of(KMOD_FILLED_SYSCALLS)
#: Size of the module's per-syscall table and the slot that enables procexit
#: (driver/bpf/events.h: SCAP_MAX_SYSCALLS, SCAP_PROCEXIT_SLOT).
MAX_SYSCALLS = 512
PROCEXIT_SLOT = MAX_SYSCALLS - 1


@dataclass(frozen=True, slots=True)
class KmodStats(RingStatsBase):
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
    #: `drops_buffer` by category, Falco's names without the `n_drops_buffer_` prefix
    #: (`scap.engines.bpf.DROP_CATEGORIES`, the probe's); other types count only in the total
    drops_by_category: dict[str, int] = field(default_factory=dict)


def _lib() -> tuple[Any, Any]:
    return load_native("scap._kmod_native", "run `pip install -e .`")


def syscall_table(syscalls: Iterable[str] | None, with_state: bool = True
                  ) -> tuple[bytes, bytes, set[str] | None]:
    """The module's syscall table for a set of names (`evt.type` names plus "procexit"; None:
    everything): (`interesting` MAX_SYSCALLS bytes, `ppm_sc` MAX_SYSCALLS little-endian u16,
    the effective name set).  The PPM_SC codes name generic events, as in the BPF probe."""
    return _ring.syscall_table(syscalls, with_state, MAX_SYSCALLS)


class KmodSource(RingSource):
    """A live event source on the pyfalco kernel module.  Use as a context manager.

    Same interface as `scap.engines.bpf.BpfSource` (both are `RingSource`s): `syscalls`
    (None: all; the state set is added unless `with_state=False`), `drop_self`, `next_batch`,
    iteration, `stop`, the procfs snapshot properties, `stats()` and `driver_stats()`.
    `device_prefix` selects the devices (default /dev/pyfalco); `snaplen`: bytes of I/O data
    kept per record (sysdig's `-s`, default 80, at most 256), as `BpfSource`."""

    _native = staticmethod(_lib)

    def __init__(self, syscalls: Iterable[str] | None = None, *, with_state: bool = True,
                 device_prefix: str = DEVICE_PREFIX, drop_self: bool = False,
                 batch_bytes: int = 4 << 20, max_batch: int = 65536,
                 poll_timeout_ms: int = 50, snaplen: int = 80) -> None:
        super().__init__(syscalls, with_state, drop_self, batch_bytes, max_batch,
                         poll_timeout_ms)
        self._prefix = device_prefix
        self._snaplen = max(0, min(snaplen, 256))

    # -- driver calls behind RingSource ---------------------------------------------------
    def _open_handle(self) -> tuple[Any, Any]:
        """Open and map every CPU's device."""
        ffi, lib = _lib()
        err = ffi.new("char[]", 256)
        hp = ffi.new("struct scap_kmod **")
        rc = lib.scap_kmod_open(self._prefix.encode(), hp, err)
        if rc:
            raise DriverError(rc, "open", ffi.string(err).decode(errors="replace"))
        return hp[0], err

    def _start(self) -> None:
        """Set the dropped tgid and the snaplen, and start the module's recording."""
        lib = _lib()[1]
        self._check(lib.scap_kmod_set_drop_tgid(self._h, os.getpid() if self._drop_self
                                                else 0, self._err), "config")
        self._check(lib.scap_kmod_set_snaplen(self._h, self._snaplen, self._err), "config")
        self._check(lib.scap_kmod_start(self._h, self._err), "start")

    def _close_handle(self) -> None:
        """Stop recording and release the devices."""
        _lib()[1].scap_kmod_stop(self._h, self._err)
        _lib()[1].scap_kmod_close(self._h)

    def _set_syscalls(self, interesting: Any, ppm_sc: Any, n: int) -> int:
        rc: int = _lib()[1].scap_kmod_set_syscalls(self._h, interesting, ppm_sc, n, self._err)
        return rc

    def _drain(self, timeout_ms: int) -> int:
        """Merge the rings by timestamp into the batch buffer."""
        n: int = _lib()[1].scap_kmod_drain(self._h, self._buf, self._batch_bytes, self._offsets,
                                           self._cpus, self._max_batch, timeout_ms, self._used,
                                           self._err)
        return n

    def _drop_detail(self, st: KmodStats) -> dict[str, int]:
        """Falco's names, as BpfSource reports them (the exit-only module has no `*_enter`
        drops: those stay 0 so the drop alert lists every field)."""
        detail = {"n_drops_buffer_total": st.drops_buffer, "n_drops_page_faults": st.drops_pf,
                  "n_drops_scratch_map": st.drops_size}
        for name in ENTER_CATEGORIES:
            detail[f"n_drops_buffer_{name}"] = 0
        for name, n in st.drops_by_category.items():
            detail[f"n_drops_buffer_{name}"] = n
        return detail

    def stats(self) -> KmodStats:
        """The rings' counters summed, plus the user-side ones."""
        st = self._kernel_stats("scap_kmod_stats", _lib()[1].scap_kmod_get_stats)
        return KmodStats(events=st.n_evts, drops_buffer=st.n_drops_buffer,
                         drops_size=st.n_drops_size, drops_pf=st.n_drops_pf,
                         delivered=self._delivered, decode_errors=self._decode_errors,
                         ncpus=st.ndevs, ring_size=st.ring_size,
                         drops_by_category=dict(zip(DROP_CATEGORIES, st.n_drops_buffer_cat,
                                                    strict=True)))
