"""`EventRecord.seq`: the stream index of an event, counted over every event of known type,
including those an `event_types` prefilter dropped in the scanner (C or Python). sinsp's
`evt.num` is built on it, so numbering must not depend on what was filtered."""
from __future__ import annotations

import glob

import pytest

import scap
from scap import _binding

TRACES = sorted(glob.glob("/work/shared/traces/syscalls/*.scap"))
NATIVE = [False] + ([True] if _binding.available() else [])


def _all(path: str, native: bool) -> list[scap.EventRecord]:
    with scap.open(path, native=native) as cap:
        return list(cap)


@pytest.mark.skipif(not TRACES, reason="no real captures under /work/shared/traces/syscalls")
@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("path", TRACES)
def test_seq_is_the_unfiltered_index(path: str, native: bool) -> None:
    every = _all(path, native)
    assert [r.seq for r in every] == list(range(len(every)))
    types = sorted({r.type for r in every})
    # a few type sets: every other type, the rare half, one type, none
    counts = {t: sum(1 for r in every if r.type == t) for t in types}
    rare = sorted(types, key=lambda t: counts[t])[: max(1, len(types) // 2)]
    for keep in (set(types[::2]), set(rare), {types[-1]}, set()):
        with scap.open(path, event_types=keep, native=native) as cap:
            got = list(cap)
            seen = cap.events_seen
        want = [r for r in every if r.type in keep]
        assert [(r.seq, r.offset, r.raw) for r in got] == [(r.seq, r.offset, r.raw)
                                                           for r in want]
        assert seen == len(every)


def test_seq_across_small_batches() -> None:
    """The count carries over batch and chunk boundaries (a decoder fed a byte at a time)."""
    from scap.decode import StreamDecoder

    path = TRACES[0] if TRACES else pytest.skip("no real captures")
    import gzip

    with gzip.open(path) as f:
        data = f.read()
    every = _all(path, False)
    keep = {every[-1].type}
    dec = StreamDecoder(keep, batch=3)
    got: list[scap.EventRecord] = []
    for i in range(0, len(data), 997):
        dec.feed(data[i:i + 997])
        while recs := dec.next_events():
            got.extend(recs)
    dec.finish()
    assert [r.seq for r in got] == [r.seq for r in every if r.type in keep]
    assert dec.seq == len(every)


def test_built_records_have_no_seq() -> None:
    from scap.testing import EventBuilder

    rec = EventBuilder().build("PPME_SYSCALL_CLOSE_E", [3])
    assert rec.seq == -1
    assert scap.EventRecord.from_raw(rec.raw).seq == -1
