"""Helpers for the live-probe tests: trigger an action, wait for its records, read params by
index straight from the record bytes (independent of the schema table)."""
from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable

from scap.record import EventRecord


class Capture:
    """Trigger an action and collect the records that match a predicate."""

    def __init__(self, src) -> None:
        self.src = src

    def flush(self) -> None:
        while self.src.next_batch(0):
            pass

    def run(self, action: Callable[[], object], match: Callable[[EventRecord], bool],
            count: int = 1, timeout: float = 3.0) -> list[EventRecord]:
        self.flush()
        action()
        found: list[EventRecord] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < count:
            found.extend(r for r in self.src.next_batch(20) if match(r))
        return found

    def one(self, action: Callable[[], object], match: Callable[[EventRecord], bool]
            ) -> EventRecord:
        recs = self.run(action, match)
        assert recs, "no matching record captured"
        return recs[0]


def raising(exc: type[BaseException], fn: Callable[..., object], *args: object
            ) -> Callable[[], None]:
    """An action that calls fn(*args) and requires it to raise `exc`."""
    import pytest

    def action() -> None:
        with pytest.raises(exc):
            fn(*args)

    return action


def me() -> int:
    return threading.get_native_id()


# -- raw parameter readers: independent of the schema table, by index -----------------------------
def lens(r: EventRecord) -> tuple[int, ...]:
    return struct.unpack_from(f"<{r.nparams}H", r.raw, 26)


def raw(r: EventRecord, i: int) -> bytes:
    ls = lens(r)
    pos = 26 + 2 * r.nparams + sum(ls[:i])
    return bytes(r.raw[pos:pos + ls[i]])


def i64(r: EventRecord, i: int) -> int:
    return struct.unpack("<q", raw(r, i))[0]


def u64(r: EventRecord, i: int) -> int:
    return struct.unpack("<Q", raw(r, i))[0]


def u32(r: EventRecord, i: int) -> int:
    return struct.unpack("<I", raw(r, i))[0]


def u16(r: EventRecord, i: int) -> int:
    return struct.unpack("<H", raw(r, i))[0]


def u8(r: EventRecord, i: int) -> int:
    return raw(r, i)[0]


def text(r: EventRecord, i: int) -> str:
    return raw(r, i).rstrip(b"\0").decode()
