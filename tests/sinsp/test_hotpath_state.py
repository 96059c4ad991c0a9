"""The live hot path leaves the state exactly as the plain path does: the same live-layout
record streams (storms, relative and non-normal paths, dirfds, O_DIRECTORY, failed opens and
closes, unknown tids, CLONE_FILES threads sharing a table or having none, forwarded events
reading the fds the absorbed opens made) through ``Inspector.set_hotpath`` and without it give
identical thread and fd tables, event numbers and forwarded Events' field values."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from hotpath_helpers import FakeRing, close_exit, open_exit, processes, read_exit, run, state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scap.engines._ring import RawBatch
from scap.testing import EventBuilder
from sinsp import Inspector, hotpath
from sinsp.localpred import UNKNOWN, Const, Not, Or, Pred

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

CANDIDATES = ["/tmp/a", "/etc/passwd", "/etc/shadow", "/home/u/.bashrc", "/dev/null",
              "/usr/lib/x.so", "/tmp/dir", "/proc/self/status", "/a"]
OTHERS = ["rel/file", "file", "../up", "/tmp//a", "/tmp/./a", "/tmp/a/", "/tmp/..", "/tmp/.",
          "/tmp/\u00e9t\u00e9", "/tmp/tab\there", "", "/"]
TIDS = [100, 101, 200, 301, 999, 1001, 1002]


def stream(seed: int, n: int = 3000) -> list[list[Any]]:
    """Batches of live-layout records: an open/close storm with every odd case mixed in."""
    rng = random.Random(seed)
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    recs = []
    open_fds: dict[int, list[int]] = {}
    for _ in range(n):
        tid = rng.choice(TIDS)
        fds = open_fds.setdefault(100 if tid == 101 else tid, [])
        r = rng.random()
        if r < 0.45:
            etype = rng.choice([307, 307, 307, 3, 327, 59])
            path = rng.choice(CANDIDATES) if rng.random() < 0.8 else rng.choice(OTHERS)
            flags = rng.choice([1, 2, 3, 1 | 1024, 4 | 2, 8192 | 2, 0])
            mode = rng.choice([0, 0o644, 0o755])
            fd = rng.choice([3, 4, 5, 6, 7, 8, 9]) if rng.random() < 0.9 else -2
            dirfd = rng.choice([-100, 3, 4, 77])
            recs.append(open_exit(b, etype, tid, fd, path, flags, mode, rng.randrange(1, 99),
                                  dirfd))
            if fd >= 0:
                fds.append(fd)
        elif r < 0.85:
            fd = rng.choice(fds) if fds and rng.random() < 0.8 else rng.choice([3, 5, 42])
            res = 0 if rng.random() < 0.9 else -9
            recs.append(close_exit(b, tid, fd, res))
        else:
            fd = rng.choice(fds) if fds else 3
            recs.append(read_exit(b, tid, fd))
    out, i = [], 0
    while i < len(recs):
        k = rng.choice([1, 7, 64, 300, 1000])
        out.append(recs[i:i + k])
        i += k
    return out


class ListSource:
    """A non-live source of the same records (Inspector's plain iteration)."""

    def __init__(self, batches: list[list[Any]]) -> None:
        self.records = [r for b in batches for r in b]
        self.processes = processes()

    def __iter__(self) -> Any:
        return iter(self.records)


MIXED = {
    307: Pred("fd.name", "startswith", ("/etc/",)),
    3: Or((Pred("fd.directory", "=", ("/tmp",)), Pred("evt.is_open_write", "=", (True,)))),
    327: Const(False),
    59: Pred("fd.filename", "glob", ("*.so",)),
    5: Pred("fd.num", "=", (5,)),
}
ALL_FALSE = {t: Const(False) for t in hotpath.HOT_TYPES}
NOT_DIRS = {t: Not(Pred("fd.typechar", "=", ("f",))) for t in (3, 307, 327, 59)} | {
    5: Pred("evt.rawres", "<", (0,))}


def _both(batches: list[list[Any]], filters: Any) -> tuple[Inspector, Inspector, list, list]:
    plain = Inspector(ListSource(batches))
    hot = Inspector(FakeRing(batches, processes()))
    assert hot.set_hotpath(filters)
    return plain, hot, run(plain), run(hot)


@pytest.mark.parametrize("filters", [MIXED, ALL_FALSE, NOT_DIRS], ids=["mixed", "false",
                                                                       "notdirs"])
@pytest.mark.parametrize("seed", range(4))
def test_state_and_events_equal(filters: Any, seed: int) -> None:
    batches = stream(seed)
    plain, hot, ev_plain, ev_hot = _both(batches, filters)
    assert state(hot) == state(plain)
    forwarded = set(e[-1] for e in ev_hot)
    # the forwarded events are the plain path's minus the absorbed ones, with equal values
    assert ev_hot == [e for e in ev_plain if e[-1] in forwarded]
    assert len(ev_plain) - len(ev_hot) == hot.hot_stats.absorbed > 0
    assert hot.source._delivered == sum(len(b) for b in batches)


def test_raw_path_without_program_equals_plain_iteration() -> None:
    batches = stream(11)
    plain = Inspector(ListSource(batches))
    live = Inspector(FakeRing(batches, processes()))
    assert run(live) == run(plain)
    assert state(live) == state(plain)
    assert live.hot_stats.absorbed == 0


@pytest.mark.parametrize("tree", [UNKNOWN, Const(True), Or((Const(False), UNKNOWN)),
                                  Pred("fd.name", "!=", ("/nonexistent",))])
def test_unknown_or_true_forwards_everything(tree: Any) -> None:
    batches = stream(5, 800)
    filters = {t: tree for t in hotpath.HOT_TYPES}
    plain, hot, ev_plain, ev_hot = _both(batches, filters)
    assert hot.hot_stats.absorbed == 0
    assert ev_hot == ev_plain
    assert state(hot) == state(plain)


def test_absent_type_is_never_absorbed() -> None:
    batches = stream(6, 800)
    plain, hot, _ev_plain, _ev_hot = _both(batches, {5: Const(False)})
    assert hot.hot_stats.opens == 0 and hot.hot_stats.closes > 0
    assert state(hot) == state(plain)


def test_on_batch_and_reload_mid_iteration() -> None:
    batches = stream(7, 2000)
    plain = Inspector(ListSource(batches))
    ev_plain = run(plain)
    hot = Inspector(FakeRing(batches, processes()))
    hot.set_hotpath(ALL_FALSE)
    calls: list[tuple[int, int]] = []
    hot.on_batch = lambda ts, absorbed: calls.append((ts, absorbed))
    got = []
    from hotpath_helpers import FIELDS

    from sinsp.fields import REGISTRY
    for k, evt in enumerate(hot):
        got.append((*tuple(REGISTRY.extract(evt, f) for f in FIELDS), evt.record.raw))
        if k == 20:
            hot.set_hotpath(MIXED)  # a rules reload while a batch is half done
        if k == 60:
            hot.set_hotpath(None)
    assert state(hot) == state(plain)
    forwarded = set(e[-1] for e in got)
    assert got == [e for e in ev_plain if e[-1] in forwarded]
    assert len(calls) == len(batches)
    assert sum(a for _, a in calls) == hot.hot_stats.absorbed > 0
    assert [ts for ts, _ in calls] == [b[-1].ts for b in batches]


def test_set_hotpath_none_is_off() -> None:
    insp = Inspector(FakeRing([], processes()))
    assert insp.set_hotpath(ALL_FALSE)
    assert insp.set_hotpath(None) is False
    assert insp.hotpath_program is None


def test_event_types_prefilter_with_hot_path() -> None:
    batches = stream(8, 1500)
    visible = {307, 5}
    plain = Inspector(ListSource(batches), event_types=visible)
    hot = Inspector(FakeRing(batches, processes()), event_types=visible)
    hot.set_hotpath(MIXED)
    ev_plain, ev_hot = run(plain), run(hot)
    forwarded = set(e[-1] for e in ev_hot)
    assert ev_hot == [e for e in ev_plain if e[-1] in forwarded]
    assert state(hot) == state(plain)


def storm_stream(seed: int, pairs: int = 1500) -> list[list[Any]]:
    """Back-to-back open/close pairs (what C pairs up) mixed with unpaired opens, opens over
    fds already known, reads, and a second thread of the same process interleaving."""
    rng = random.Random(seed)
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    recs = []
    for _ in range(pairs):
        tid = rng.choice([100, 100, 100, 101, 200, 301, 1003])
        fd = rng.choice([3, 3, 3, 4, 5])
        path = rng.choice(["/dev/null", "/etc/passwd", "/tmp/a", "rel"])
        recs.append(open_exit(b, rng.choice([307, 3]), tid, fd, path, rng.choice([1, 2, 1025])))
        r = rng.random()
        if r < 0.7:
            recs.append(close_exit(b, tid, fd, 0 if r < 0.65 else -9))
        elif r < 0.8:
            recs.append(close_exit(b, rng.choice([100, 101]), fd))
        elif r < 0.9:
            recs.append(read_exit(b, tid, fd))
    out, i = [], 0
    while i < len(recs):
        k = rng.choice([2, 3, 64, 1000])
        out.append(recs[i:i + k])
        i += k
    return out


@pytest.mark.parametrize("max_fds", [65536, 2])
@pytest.mark.parametrize("filters", [MIXED, ALL_FALSE], ids=["mixed", "false"])
@pytest.mark.parametrize("seed", range(3))
def test_open_close_pairs(filters: Any, seed: int, max_fds: int) -> None:
    """Pairs C folds into one fd change leave the tables and the fd counters (added, removed,
    evicted: a small ``max_fds`` makes the adds evict) as the plain path does."""
    batches = storm_stream(seed)
    plain = Inspector(ListSource(batches), max_fds=max_fds)
    hot = Inspector(FakeRing(batches, processes()), max_fds=max_fds)
    assert hot.set_hotpath(filters)
    ev_plain, ev_hot = run(plain), run(hot)
    assert state(hot) == state(plain)
    forwarded = {e[-1] for e in ev_hot}
    assert ev_hot == [e for e in ev_plain if e[-1] in forwarded]
    assert hot.hot_stats.absorbed > 0
    assert (plain.fd_stats.evicted > 0) is (max_fds == 2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)),
                                        max_size=12))
def test_damaged_records_are_classified_safely(seed: int, flips: list[tuple[int, int]]) -> None:
    """Bytes flipped anywhere in a batch (headers, lengths, params): C never reads past the
    buffer, and the hot path's state and events stay the plain path's."""
    recs = [r for b in stream(seed, 120) for r in b]
    data = bytearray()
    offs = []
    for r in recs:
        offs.append(len(data))
        data += r.raw
    for pos, val in flips:
        data[pos % len(data)] = val
    raw = RawBatch(bytes(data), struct.pack(f"<{len(offs)}I", *offs), bytes(2 * len(offs)),
                   len(offs))

    class Raw(FakeRing):
        def raw_batches(self) -> Any:
            yield raw

    plain = Inspector(Raw([], processes()))
    hot = Inspector(Raw([], processes()))
    hot.set_hotpath(ALL_FALSE)
    ev_plain, ev_hot = run(plain), run(hot)
    forwarded = {e[-1] for e in ev_hot}
    assert ev_hot == [e for e in ev_plain if e[-1] in forwarded]
    assert state(hot) == state(plain)
    assert (hot.source._delivered, hot.source._decode_errors) == \
        (plain.source._delivered, plain.source._decode_errors)
