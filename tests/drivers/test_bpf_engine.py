"""The live engine itself: the in-kernel interesting table, drop accounting, the batch drain
(no record lost when a batch fills), typed errors."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.drivers.conftest import BPF_SKIP, requires_bpf
from tests.drivers.helpers import me, u16

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf]

NR_GETPPID, NR_GETUID = 110, 102


def _mine(batch, nr=None):
    return [r for r in batch if r.tid == me() and (nr is None or (r.type == 1 and u16(r, 1) == nr))]


def _drain_all(src, rounds=20):
    out = []
    for _ in range(rounds):
        b = src.next_batch(10)
        out.extend(b)
        if not b and out:
            break
    return out


def test_interesting_table_filters_in_kernel_and_updates_live():
    from scap.engines.bpf import BpfSource

    with BpfSource({"getppid"}, with_state=False) as src:
        for _ in range(5):
            os.getppid()
            os.getuid()
        fd = os.open("/", os.O_RDONLY)
        os.close(fd)
        recs = _mine(_drain_all(src))
        assert len([r for r in recs if r.type == 1 and u16(r, 1) == NR_GETPPID]) == 5
        assert all(r.type == 1 and u16(r, 1) == NR_GETPPID for r in recs)  # nothing else passed
        before = src.stats()
        assert before.events >= 5

        src.set_interesting({"getuid"})                 # like a rules reload on SIGHUP
        for _ in range(3):
            os.getppid()
            os.getuid()
        recs = _mine(_drain_all(src))
        assert [u16(r, 1) for r in recs] == [NR_GETUID] * 3


def test_small_batches_lose_nothing():
    """The drain stops a batch after storing a record (libbpf consumes it before the callback
    returns): with 7 records per batch every one of 500 must still arrive, in order."""
    from scap.engines.bpf import BpfSource

    with BpfSource({"getppid"}, with_state=False, max_batch=7) as src:
        for _ in range(500):
            os.getppid()
        seen, sizes = [], []
        for _ in range(400):
            b = src.next_batch(5)
            sizes.append(len(b))
            seen.extend(_mine(b, NR_GETPPID))
            if len(seen) >= 500:
                break
        assert len(seen) == 500
        assert max(sizes) <= 7
        ts = [r.ts for r in seen]
        assert ts == sorted(ts)
        st = src.stats()
        assert st.drops_buffer == 0 and st.decode_errors == 0


def test_full_ring_counts_drops_per_cpu():
    from scap.engines.bpf import BpfSource

    with BpfSource({"getppid"}, with_state=False, ring_bytes=4096) as src:
        n = 2000
        for _ in range(n):
            os.getppid()
        st = src.stats()
        assert st.drops_buffer > 0                      # the ring (4 KiB) could not hold them
        got = len(_mine(_drain_all(src), NR_GETPPID))
        assert 0 < got < n
        st = src.stats()
        assert st.events + st.drops_buffer >= n         # every attempt is accounted for


def test_timestamps_are_wall_clock():
    import time

    from scap.engines.bpf import BpfSource

    with BpfSource({"getppid"}, with_state=False) as src:
        t0 = time.time_ns()
        os.getppid()
        t1 = time.time_ns()
        recs = _mine(_drain_all(src), NR_GETPPID)
        assert recs and t0 - 5_000_000 <= recs[0].ts <= t1 + 5_000_000


def test_missing_probe_object_is_a_typed_error(tmp_path):
    from scap.engines.bpf import BpfSource, DriverError

    with pytest.raises(DriverError) as ei:
        BpfSource(probe=tmp_path / "nope.o").open()
    assert ei.value.errno == 2 and "not found" in str(ei.value)


def test_foreign_object_is_refused(tmp_path):
    """An object without our API/schema stamps is refused before anything is loaded."""
    import shutil

    from scap.engines.bpf import BpfSource, DriverError

    if shutil.which("clang") is None:
        pytest.skip("clang not installed")
    src = tmp_path / "other.bpf.c"
    src.write_text('char LICENSE[] __attribute__((section("license"), used)) = "GPL";\n'
                   'int x __attribute__((section(".rodata"))) = 1;\n')
    out = tmp_path / "other.bpf.o"
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-c", str(src), "-o", str(out)],
                   check=True)
    with pytest.raises(DriverError) as ei:
        BpfSource(probe=out).open()
    assert "not a pyfalco probe" in str(ei.value)


def test_not_root_is_a_typed_error():
    script = textwrap.dedent("""
        import os
        import scap._bpf_native, scap.schema   # imported while root: the interpreter lives in /root
        from scap.engines.bpf import BpfSource, DriverError
        os.setgid(65534); os.setuid(65534)
        try:
            BpfSource().open()
        except DriverError as e:
            print("ERR", e.errno, e.stage, e.message)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                         check=False)
    assert res.stdout.startswith("ERR 1 load"), res.stdout + res.stderr
    assert "root" in res.stdout


def test_verifier_rejection_carries_the_log(tmp_path):
    """A probe object the verifier refuses (built here: unbounded read) gives the log."""
    import shutil

    from scap.engines.bpf import BpfSource, DriverError

    if shutil.which("clang") is None:
        pytest.skip("clang not installed")
    src = tmp_path / "bad.bpf.c"
    src.write_text(textwrap.dedent("""
        #include "vmlinux.h"
        #include <bpf/bpf_helpers.h>
        #include <bpf/bpf_tracing.h>
        #include "maps.h"
        char LICENSE[] SEC("license") = "GPL";
        const volatile __u32 scap_api_version = SCAP_BPF_API_VERSION;
        const volatile __u32 scap_schema_version = SCAP_BPF_SCHEMA_VERSION;
        SEC("tp_btf/sys_exit")
        int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
        {
            return *(volatile long *)ret;   /* dereferencing a scalar: rejected */
        }
    """))
    out = tmp_path / "bad.bpf.o"
    drv = os.path.join(os.path.dirname(__file__), "..", "..", "driver", "bpf")
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I", drv,
                    "-I", os.path.join(drv, ".output"), "-c", str(src), "-o", str(out)], check=True)
    with pytest.raises(DriverError) as ei:
        BpfSource(probe=out).open()
    assert ei.value.stage == "load"
    assert "invalid mem access" in ei.value.log
    assert "verifier" in str(ei.value)


@pytest.mark.skipif(BPF_SKIP is not None, reason=BPF_SKIP or "")
def test_stats_on_shared_source(bpf_source):
    st = bpf_source.stats()
    assert st.ncpus == os.cpu_count() or st.ncpus >= 1
    assert st.events >= st.delivered


def test_source_is_capture_shaped_and_feeds_the_inspector():
    """The live source carries the /proc snapshot like a file's metadata, and sinsp's
    Inspector turns its records into state-linked events (proc.name of our own openat)."""
    from scap.engines.bpf import BpfSource
    from sinsp import Inspector

    with BpfSource({"openat"}) as src:
        assert any(p.tid == os.getpid() for p in src.processes)
        assert any(i.addr == "127.0.0.1" for i in src.interfaces)
        assert any(u.uid == 0 for u in src.users)
        insp = Inspector(src)
        marker = f"/tmp/pyfalco-live-{os.getpid()}"
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        os.unlink(marker)
        found = None
        for _ in range(50):
            for rec in src.next_batch(20):
                evt = insp.process(rec)
                if evt is not None and rec.type == 307 and marker.encode() in rec.raw:
                    found = evt
            if found:
                break
        assert found is not None
        assert found.thread is not None and found.thread.pid == os.getpid()
        assert found.fd is not None and found.fd.name == marker
        c = src.driver_stats()
        assert c.n_evts >= c.n_drops >= 0
