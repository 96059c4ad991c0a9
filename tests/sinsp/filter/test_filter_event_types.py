"""Filter.event_types, computed like Falco's filter_evttype_resolver (cases modelled on its
unit tests: openat/close, negations, and/or mixes, non-evt.type checks)."""

from __future__ import annotations

import pytest

from scap.schema import event_types_by_name
from sinsp.filter import event_types_of, parse
from sinsp.filter.compiler import _universe

OPENAT = event_types_by_name("openat")
CLOSE = event_types_by_name("close")
ALL = _universe()


def types(text: str) -> frozenset[int] | None:
    return event_types_of(parse(text))


def test_names_resolve_to_enter_and_exit_codes() -> None:
    # PPME_SYSCALL_OPENAT_E/X and OPENAT_2_E/X; PPME_SYSCALL_CLOSE_E/X
    assert len(OPENAT) == 4 and len(CLOSE) == 2


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("evt.type = openat", OPENAT),
        ("evt.type == openat", OPENAT),
        ("evt.type in (openat, close)", OPENAT | CLOSE),
        ("evt.type = openat or evt.type = close", OPENAT | CLOSE),
        ("evt.type in (openat, close) and evt.type = close", CLOSE),
        ("evt.type = openat and proc.name = nginx", OPENAT),
        ("evt.type = openat and not proc.name = nginx", OPENAT),
        ("evt.type = openat and evt.type = close", frozenset()),
        ("not evt.type != openat", OPENAT),
        ("evt.type != openat", ALL - OPENAT),
        ("not evt.type = openat", ALL - OPENAT),
        ("not evt.type in (openat, close)", ALL - OPENAT - CLOSE),
        ("not (evt.type = openat or evt.type = close)", ALL - OPENAT - CLOSE),
        ("not (evt.type = openat and proc.name = x)", ALL - OPENAT),
        ("evt.type = nosuchevent", frozenset()),
    ],
)
def test_bounded(text: str, want: frozenset[int]) -> None:
    assert types(text) == want


@pytest.mark.parametrize(
    "text",
    [
        "proc.name = nginx",
        "not proc.name = nginx",
        "evt.type = openat or proc.name = nginx",
        "evt.type != openat or evt.type = openat",
        "evt.type startswith open",  # only = == != in count
        "tolower(evt.type) = openat",
        "fd.name exists",
        "not (evt.type = openat or proc.name = x)",
    ],
)
def test_unbounded_is_none(text: str) -> None:
    assert types(text) is None


def test_generic_syscalls_map_to_generic_events() -> None:
    # a syscall with no dedicated event is carried by PPME_GENERIC_E/X (0, 1)
    got = types("evt.type = syncfs")
    assert got == event_types_by_name("syncfs")
    assert got is not None and got <= {0, 1}
