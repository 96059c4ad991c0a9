"""The kernel-module engine on this host: what works without the module loaded (this kernel
cannot load modules): the error for a missing device and the syscall table it would send."""
from __future__ import annotations

import errno
import struct

import pytest

from scap import schema
from scap.engines._syscalls_x86_64 import X86_64_SYSCALLS
from scap.engines.bpf import STATE_SYSCALLS

kmod = pytest.importorskip("scap.engines.kmod")


def test_missing_device_is_a_clear_driver_error(tmp_path):
    prefix = str(tmp_path / "pyfalco")
    src = kmod.KmodSource(device_prefix=prefix)
    with pytest.raises(kmod.DriverError) as info:
        src.open()
    exc = info.value
    assert exc.errno == errno.ENOENT
    assert exc.stage == "open"
    assert f"{prefix}0" in str(exc) and "module loaded" in str(exc)
    with pytest.raises(kmod.DriverError) as info:
        src.next_batch(0)
    assert info.value.errno == errno.EBADF


def test_context_manager_raises_without_device(tmp_path):
    with pytest.raises(kmod.DriverError), kmod.KmodSource(device_prefix=str(tmp_path / "none")):
        pass


def test_syscall_table_for_a_rule_set():
    interesting, ppm_sc, wanted = kmod.syscall_table({"openat", "getppid"}, with_state=False)
    assert len(interesting) == kmod.MAX_SYSCALLS and len(ppm_sc) == 2 * kmod.MAX_SYSCALLS
    on = {nr for nr in range(kmod.MAX_SYSCALLS) if interesting[nr]}
    assert on == {X86_64_SYSCALLS["openat"], X86_64_SYSCALLS["getppid"]}
    assert wanted == {"openat", "getppid"}
    codes = struct.unpack(f"<{kmod.MAX_SYSCALLS}H", ppm_sc)
    # generic events name their syscall through the PPM_SC code: the schema's spelling
    assert schema.SYSCALL_NAMES[codes[X86_64_SYSCALLS["getppid"]]] == "getppid"
    assert schema.SYSCALL_NAMES[codes[X86_64_SYSCALLS["mprotect"]]] == "mprotect"


def test_syscall_table_adds_state_and_procexit():
    interesting, _ppm, wanted = kmod.syscall_table({"getppid"})
    assert wanted is not None and wanted >= STATE_SYSCALLS
    assert interesting[X86_64_SYSCALLS["execve"]] == 1
    assert interesting[X86_64_SYSCALLS["close"]] == 1
    assert interesting[X86_64_SYSCALLS["mprotect"]] == 0
    assert interesting[kmod.PROCEXIT_SLOT] == 1
    everything, _ppm, wanted = kmod.syscall_table(None)
    assert wanted is None and everything[kmod.PROCEXIT_SLOT] == 1
    assert all(everything[nr] for nr in X86_64_SYSCALLS.values() if nr < kmod.PROCEXIT_SLOT)
    off, _ppm, _w = kmod.syscall_table({"openat"}, with_state=False)
    assert off[kmod.PROCEXIT_SLOT] == 0


def test_a_file_that_is_not_the_device_is_refused(tmp_path):
    (tmp_path / "fake0").write_bytes(b"\0" * 4096)
    with pytest.raises(kmod.DriverError) as info:
        kmod.KmodSource(device_prefix=str(tmp_path / "fake")).open()
    assert info.value.errno == errno.EPROTO and "API version" in str(info.value)


def test_drop_detail_has_the_probes_names_and_the_categories():
    """driver_stats().detail of the module: BpfSource's names (Falco's n_drops_buffer_*,
    enter ones 0) plus n_drops_page_faults, the categories from drops_by_category."""
    from scap.engines.bpf import DROP_CATEGORIES, BpfSource, BpfStats

    cats = {name: k + 1 for k, name in enumerate(DROP_CATEGORIES)}
    st = kmod.KmodStats(events=10, drops_buffer=50, drops_size=2, drops_pf=3, delivered=0,
                        decode_errors=0, ncpus=2, ring_size=1 << 16, drops_by_category=cats)
    detail = kmod.KmodSource()._drop_detail(st)
    bpf = BpfSource()._drop_detail(BpfStats(events=10, drops_buffer=50, drops_size=2,
                                            delivered=0, decode_errors=0, ncpus=2,
                                            drops_by_category=cats))
    assert {k: detail[k] for k in bpf} == bpf
    assert set(detail) - set(bpf) == {"n_drops_page_faults"} and detail["n_drops_page_faults"] == 3
    assert detail["n_drops_buffer_close_exit"] == cats["close_exit"]
    assert detail["n_drops_buffer_execve_enter"] == 0
