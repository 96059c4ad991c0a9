"""The current-libs event table against the verified tables of scap-format.md section 11.

Section 11 of the shared format document was generated from the compiled current
falcosecurity/libs table, so every row it lists is a fact our generated
``EVENT_INFO_CURRENT`` must reproduce exactly: the ``PPME_*`` name, ``evt.type`` name, the
old/conv/large/unused flags, each param's name and type (and the dirfd index of FSRELPATH
params), and how many of those params sysdig 0.29.3's table has.  The rows are parsed from
the document itself (``shared/`` sits beside the repository, in CI as here), so a
correction of the document is checked without touching this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from scap.schema import EF, EVENT_INFO, EVENT_INFO_0_29_3, EVENT_INFO_CURRENT, PPME, PT

_REPO = Path(__file__).resolve().parents[2]
DOC = _REPO.parent / "shared" / "docs" / "scap-format.md"

pytestmark = pytest.mark.skipif(
    not DOC.exists(), reason=f"{DOC} is absent (the shared docs sit beside the repository)"
)

_FLAG_WORDS = {
    "old": EF.OLD_VERSION,
    "conv": EF.CONVERTER_MANAGED,
    "large": EF.LARGE_PAYLOAD,
    "unused": EF.UNUSED,
}
_CHECKED_FLAGS = EF.OLD_VERSION | EF.CONVERTER_MANAGED | EF.LARGE_PAYLOAD | EF.UNUSED


@dataclass(frozen=True)
class DocRow:
    """One row of a section 11.2 table, as the document states it."""

    line: int
    id: int
    ppme: str
    name: str
    flags: EF
    params: tuple[tuple[str, str, int | None], ...]  # (name, PT name, dirfd index)
    count_0_29_3: int | None  # None = "unknown" (type >= 336)


def _section(text: str, start: str, end: str) -> tuple[int, list[str]]:
    lines = text.splitlines()
    i0 = next(i for i, ln in enumerate(lines) if ln.startswith(start))
    i1 = next(i for i, ln in enumerate(lines) if i > i0 and ln.startswith(end))
    return i0 + 1, lines[i0:i1]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _param(spec: str, where: str) -> tuple[str, str, int | None]:
    m = re.fullmatch(r"([\w ]+):([A-Z0-9_]+)(?:→dirfd#(\d+))?", spec.strip())
    assert m is not None, f"{where}: cannot parse param {spec!r}"
    return m.group(1), m.group(2), int(m.group(3)) if m.group(3) else None


def parse_rows(text: str) -> list[DocRow]:
    first, lines = _section(text, "### 11.2", "### 11.3")
    rows = []
    for off, line in enumerate(lines):
        cells = _cells(line) if line.startswith("|") else []
        if len(cells) != 6 or not cells[0].isdigit():
            continue
        where = f"scap-format.md:{first + off}"
        words = [w for w in cells[3].split(",") if w.strip()]
        flags = EF(0)
        for w in words:
            flags |= _FLAG_WORDS[w.strip()]
        params = () if cells[4] in ("—", "") else tuple(
            _param(p, where) for p in cells[4].split(",")
        )
        count = cells[5]
        rows.append(DocRow(
            first + off, int(cells[0]), cells[1], cells[2], flags, params,
            None if count == "unknown" else len(params) if count == "all" else int(count),
        ))
    return rows


def parse_versions(text: str) -> list[tuple[int, str, str, str]]:
    """Section 11.1's version list: ``(id, name, suffix or "", where)`` per listed id."""
    first, lines = _section(text, "### 11.1", "### 11.2")
    out = []
    for off, line in enumerate(lines):
        cells = _cells(line) if line.startswith("|") else []
        if len(cells) != 2 or not re.match(r"\d", cells[1]):
            continue
        syscall, spec = cells
        older = re.search(r"older ones are named `(\w+)`", spec)
        for m in re.finditer(r"(\d+)(?:/(\d+))?(?: \(`(_\d+)`([^)]*)\))?", spec):
            named = re.search(r"named `(\w+)`", m.group(4) or "")
            name = syscall if named or not older else older.group(1)
            for num in filter(None, (m.group(1), m.group(2))):
                out.append((int(num), name, m.group(3) or "", f"scap-format.md:{first + off}"))
    return out


@pytest.fixture(scope="module")
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rows(doc_text: str) -> list[DocRow]:
    found = parse_rows(doc_text)
    assert len(found) >= 140, "the section 11.2 tables did not parse"
    return found


def test_table_size_is_current_master() -> None:
    # 10.1: current numbering is 0...453; the readers' table covers it too.
    assert len(EVENT_INFO_CURRENT) == 454
    assert len(EVENT_INFO) == 454
    assert len(EVENT_INFO_0_29_3) == 336


def test_every_row_matches_current_table(rows: list[DocRow]) -> None:
    errors = []
    for r in rows:
        info = EVENT_INFO_CURRENT[r.id]
        got_params = tuple(
            (p.name, p.type.name, p.dirfd_index) for p in info.params
        )
        problems = []
        if PPME(r.id).name != r.ppme and getattr(PPME, r.ppme, None) != r.id:
            problems.append(f"PPME {PPME(r.id).name} != {r.ppme}")
        if info.name != r.name:
            problems.append(f"name {info.name!r} != {r.name!r}")
        if info.flags & _CHECKED_FLAGS != r.flags:
            problems.append(f"flags {info.flags & _CHECKED_FLAGS!r} != {r.flags!r}")
        if got_params != r.params:
            problems.append(f"params {got_params} != {r.params}")
        if problems:
            errors.append(f"line {r.line} id {r.id}: " + "; ".join(problems))
    assert not errors, "\n".join(errors)


def test_ppme_names_are_current_spelling(rows: list[DocRow]) -> None:
    for r in rows:
        assert PPME[r.ppme] == r.id, f"line {r.line}"


def test_0_29_3_param_counts(rows: list[DocRow]) -> None:
    for r in rows:
        if r.count_0_29_3 is None:
            assert r.id >= len(EVENT_INFO_0_29_3), f"line {r.line}: id {r.id} is in 0.29.3"
        else:
            assert EVENT_INFO_0_29_3[r.id].nparams == r.count_0_29_3, f"line {r.line}"
            # what file readers index for these ids is the 0.29.3 entry
            assert EVENT_INFO[r.id] is EVENT_INFO_0_29_3[r.id]


def test_param_types_of_shared_params_agree_in_width(rows: list[DocRow]) -> None:
    """Section 11.1: types differ between the versions only at the same width (FLAGSn vs
    ENUMFLAGSn and similar), so a record of either layout decodes under both tables."""
    widths = {PT.FLAGS8: 1, PT.ENUMFLAGS8: 1, PT.UINT8: 1, PT.FLAGS16: 2, PT.ENUMFLAGS16: 2,
              PT.UINT16: 2, PT.FLAGS32: 4, PT.ENUMFLAGS32: 4, PT.UINT32: 4, PT.MODE: 4,
              PT.UID: 4, PT.GID: 4, PT.INT32: 4, PT.ERRNO: 8, PT.PID: 8, PT.FD: 8,
              PT.INT64: 8, PT.UINT64: 8}
    for r in rows:
        if r.count_0_29_3 is None:
            continue
        old = EVENT_INFO_0_29_3[r.id].params
        for (name, ptype, _), op in zip(r.params, old, strict=False):
            new = PT[ptype]
            if new != op.type:
                assert widths.get(new) == widths.get(op.type) is not None, (
                    f"line {r.line} {name}: {new.name} vs 0.29.3 {op.type.name}")


def test_version_list_of_11_1(doc_text: str) -> None:
    listed = parse_versions(doc_text)
    assert len(listed) > 40
    for etype, name, suffix, where in listed:
        info = EVENT_INFO_CURRENT[etype]
        assert info.name == name, f"{where}: id {etype} is {info.name!r}, doc says {name!r}"
        if suffix:
            assert PPME(etype).name.endswith(suffix + ("_E" if etype % 2 == 0 else "_X")), (
                f"{where}: id {etype} {PPME(etype).name} lacks {suffix}")


def test_newest_syscalls_use_the_exit_slot_only() -> None:
    # 10.1: close_range 450/451 and keyctl 452/453 leave the enter slot unused.
    for enter, name in ((450, "close_range"), (452, "keyctl")):
        assert EVENT_INFO_CURRENT[enter].flags & EF.UNUSED
        assert EVENT_INFO_CURRENT[enter + 1].name == name
        assert not EVENT_INFO_CURRENT[enter + 1].flags & EF.UNUSED
        assert EVENT_INFO_CURRENT[enter + 1].params[0].type == PT.ERRNO


def test_iterator_events_use_the_iterator_types() -> None:
    # 9.4: FD32/PID32/CHARBUFARRAY exist for the task-iterator events 430-449.
    used = {p.type for info in EVENT_INFO_CURRENT[430:450] for p in info.params}
    assert {PT.FD32, PT.PID32, PT.CHARBUFARRAY} <= used
    for info in EVENT_INFO_CURRENT[:430]:
        assert not {p.type for p in info.params} & {PT.FD32, PT.PID32}


_SAMPLE = {
    PT.ERRNO: -9, PT.FD32: 5, PT.PID32: 4242, PT.UINT16: 1, PT.UINT32: 7, PT.UINT64: 123,
    PT.CHARBUF: "bash", PT.CHARBUFARRAY: ["bash", "-c"], PT.FSPATH: "/usr/bin/bash",
    PT.FLAGS8: 2, PT.FLAGS32: 1, PT.ENUMFLAGS32: 3, PT.UID: 1000, PT.GID: 1000,
    PT.ABSTIME: 1_700_000_000_000_000_000, PT.PORT: 8080, PT.IPV4ADDR: "10.0.0.1",
    PT.IPV6ADDR: "fe80::1",
}


def test_new_events_round_trip_through_a_capture(tmp_path: Path) -> None:
    """Ids 430-453 are beyond sysdig 0.29.3, so only our own writer and reader can check
    them: every param of every new type is written and read back decoded as its type."""
    import scap
    from scap.testing import EventBuilder, write_capture

    builder = EventBuilder()
    want = {}
    events = []
    for etype in range(430, 454):
        info = EVENT_INFO_CURRENT[etype]
        if info.flags & EF.UNUSED:
            continue
        values = [(0, -5) if p.type == PT.DYN else _SAMPLE[p.type] for p in info.params]
        want[etype] = values
        events.append(builder.build(etype, values, ts=1_000 + etype, tid=1))
    path = tmp_path / "new.scap"
    write_capture(path, events)
    with scap.open(path) as cap:
        got = {rec.type: list(rec.params) for rec in cap}
    assert got == want
