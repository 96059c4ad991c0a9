"""Review of the hot path's candidate test (``hotpath.c``'s ``normal_path``): over every short
name built from the characters that make paths odd ('/', '.', a letter, a space, DEL, a
UTF-8 byte, a NUL), an open the C classifier absorbs (every tree FALSE) leaves exactly the fd
the open parser makes from the same record, and only names ``localpred`` calls candidates are
absorbed; the fd table of the plain path and of the hot path are then equal."""

from __future__ import annotations

import itertools

import pytest
from hotpath_helpers import FakeRing, close_exit, open_exit, processes, state

from scap.testing import EventBuilder
from sinsp import Inspector, hotpath
from sinsp.localpred import Const

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

ALL_FALSE = {t: Const(False) for t in hotpath.HOT_TYPES}


def _names() -> list[str]:
    out = [""]
    for n in range(1, 6):
        out.extend("".join(t) for t in itertools.product("/.a", repeat=n))
    # the odd bytes, in a few positions
    for odd in (" ", "\x7f", "\u00e9", "\t", "\x00"):
        out += [f"/{odd}", f"/a{odd}", f"/{odd}/a", f"/a/{odd}b", f"/.{odd}", f"/..{odd}/x"]
    return out


def test_absorbed_opens_are_exactly_the_candidates_and_keep_the_parsers_fd() -> None:
    names = _names()
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    batches = []
    for k, etype in enumerate((307, 3, 327, 59)):
        recs = []
        for i, name in enumerate(names):
            fd = 3 + (i % 900)
            # a different thread per type so the four tables are checked apart
            tid = (100, 200, 1005, 1006)[k]
            recs.append(open_exit(b, etype, tid, fd, name, 1 | 1024 * (i & 1)))
        batches += [recs[i:i + 700] for i in range(0, len(recs), 700)]
    plain = Inspector(FakeRing(batches, processes()), max_fds=100_000)
    forwarded_plain = [e.record.raw for e in plain]
    hot = Inspector(FakeRing(batches, processes()), max_fds=100_000)
    assert hot.set_hotpath(ALL_FALSE)
    forwarded_hot = {e.record.raw for e in hot}
    assert state(hot) == state(plain)
    absorbed = [r for r in forwarded_plain if r not in forwarded_hot]
    assert len(absorbed) == hot.hot_stats.opens > 0
    all_recs = [r for bt in batches for r in bt]
    by_raw = {r.raw: r for r in all_recs}
    for raw in absorbed:
        rec = by_raw[raw]
        i_name = 2 if rec.type in (307, 327) else 1
        name = bytes(rec.rawparam(i_name)).split(b"\0")[0].decode("utf-8", "surrogateescape")
        assert hotpath.is_candidate_path(name), name
    # and every candidate name was absorbed (nothing about a candidate makes C forward it);
    # a name param ends at its first NUL for the parser as for C
    n_candidates = sum(hotpath.is_candidate_path(n.split("\0")[0]) for n in names)
    assert hot.hot_stats.opens == 4 * n_candidates


def test_close_after_absorbed_open_of_odd_name_keeps_tables_equal() -> None:
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    recs = []
    for i, name in enumerate(_names()):
        recs.append(open_exit(b, 307, 100, 5, name, 1))
        if i % 3:
            recs.append(close_exit(b, 100, 5))
    batches = [recs[i:i + 333] for i in range(0, len(recs), 333)]
    plain = Inspector(FakeRing(batches, processes()))
    list(plain)
    hot = Inspector(FakeRing(batches, processes()))
    assert hot.set_hotpath(ALL_FALSE)
    list(hot)
    assert state(hot) == state(plain)
