"""The hot path on the live probe: an openat/close storm of this process is absorbed (never
becomes an Event) while the state still tracks the fds it leaves open and forwards the opens
the tree says a rule may want."""

from __future__ import annotations

import os

import pytest

from sinsp import Inspector, hotpath
from sinsp.localpred import Const, Pred
from tests.drivers.conftest import BPF_SKIP, requires_bpf

pytestmark = [pytest.mark.bpf, pytest.mark.root, requires_bpf,
              pytest.mark.skipif(not hotpath.available(),
                                 reason=f"hot path not built: {hotpath.import_error()}")]

N = 3000


def test_live_storm_is_absorbed_and_state_kept() -> None:
    assert BPF_SKIP is None
    from scap.engines.bpf import BpfSource

    with BpfSource({"openat", "close"}, with_state=True, poll_timeout_ms=20) as src:
        insp = Inspector(src)
        assert insp.set_hotpath({
            307: Pred("fd.name", "startswith", ("/etc/",)),  # forwarded: opens under /etc
            5: Pred("evt.rawres", "<", (0,)),                # forwarded: failed closes
            3: Const(False), 327: Const(False), 59: Const(False),
        })
        me = os.getpid()
        kept = os.open("/etc/hostname", os.O_RDONLY)
        for _ in range(N):
            fd = os.open("/dev/null", os.O_RDONLY)
            os.close(fd)
        nulls = os.open("/dev/null", os.O_RDONLY)  # stays open
        idle = 0
        batches: list[tuple[int, int]] = []

        def on_batch(ts: int, absorbed: int) -> None:
            nonlocal idle
            batches.append((ts, absorbed))
            idle = idle + 1 if ts == 0 else 0
            if idle >= 3:
                src.stop()

        insp.on_batch = on_batch
        mine = [(evt.record.type, evt.fdnum, str(evt.fd.name if evt.fd else None))
                for evt in insp if evt.record.tid == me]
        try:
            st = insp.hot_stats
            assert st.opens >= N + 1 and st.closes >= N
            assert sum(a for _, a in batches) == st.absorbed
            # our /dev/null opens and closes never became Events; the /etc one did
            assert (307, kept, "/etc/hostname") in mine
            assert not any(name == "/dev/null" for _, _, name in mine)
            table = insp.threads.get(me).fd_table()
            assert table.get(kept).name == "/etc/hostname"
            assert table.get(nulls).name == "/dev/null"
            open_nulls = [i.fd for i in table if i.name == "/dev/null"]
            assert nulls in open_nulls
            assert set(open_nulls) <= set(int(f) for f in os.listdir("/proc/self/fd"))
        finally:
            os.close(kept)
            os.close(nulls)
