"""evt.is_open_read/write/exec on every open-family event, against sysdig 0.29.3.

0.29.3 reads the open flags of the open exit, the old-layout openat enter, the openat_2 exit
and the openat2 exit (flags, then mode for the exec check) and only the mode of creat exits;
every other event (enters of the new layouts, the old openat exit) is ``false``.  We used to
leave the openat2 exit out, so ``open_read`` never held for an /etc/shadow read through
openat2.  The capture below holds each type with a grid of flags and modes; sysdig decides.

evt.is_open_create and open_by_handle_at (exit 337) are newer than 0.29.3 (it rejects the
field and stops reading at type 336): they follow current libs' sinsp_filtercheck_event
(created = the probe's PPM_O_F_CREATED, or an O_TMPFILE open that returned an fd;
open_by_handle_at has flags but no mode, so it is never "exec").
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from _sysdig_diff import diff, have_sysdig, sysdig_rows

from scap.metadata import ProcInfo
from scap.record import EventRecord
from scap.testing import EventBuilder, write_capture

PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR, PPM_O_CREAT = 1, 2, 3, 4
PPM_O_TRUNC, PPM_O_DIRECTORY, PPM_O_TMPFILE, PPM_O_F_CREATED = 256, 1024, 8192, 1 << 14

FLAGS = [0, PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR, PPM_O_RDONLY | PPM_O_CREAT,
         PPM_O_WRONLY | PPM_O_CREAT, PPM_O_WRONLY | PPM_O_TMPFILE,
         PPM_O_RDONLY | PPM_O_DIRECTORY, PPM_O_CREAT, PPM_O_TMPFILE,
         PPM_O_WRONLY | PPM_O_CREAT | PPM_O_TRUNC]
MODES = [0, 0o755, 0o644, 0o100, 0o010, 0o001]
FIELDS = ["evt.type", "evt.dir", "evt.is_open_read", "evt.is_open_write", "evt.is_open_exec",
          "evt.arg.flags", "evt.arg.mode"]


def _grid() -> list[EventRecord]:
    """Enter and exit of open, creat, openat (both layouts) and openat2, 0.29.3's layouts."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    out = []
    for f in FLAGS:
        for m in MODES:
            out += [
                b.build("SYSCALL_OPEN_E", ["/etc/shadow", f, m]),
                b.build("SYSCALL_OPEN_X", [3, "/etc/shadow", f, m, 0]),
                b.build("SYSCALL_CREAT_E", ["/tmp/c", m]),
                b.build("SYSCALL_CREAT_X", [3, "/tmp/c", m, 0]),
                b.build("SYSCALL_OPENAT_E", [-100, "/etc/shadow", f, m]),
                b.build("SYSCALL_OPENAT_X", [3]),
                b.build("SYSCALL_OPENAT_2_E", [-100, "/etc/shadow", f, m]),
                b.build("SYSCALL_OPENAT_2_X", [3, -100, "/etc/shadow", f, m, 0]),
                b.build("SYSCALL_OPENAT2_E", [-100, "/etc/shadow", f, m, 0]),
                b.build("SYSCALL_OPENAT2_X", [3, -100, "/etc/shadow", f, m, 0]),
            ]
    return out


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openflags") / "grid.scap"
    write_capture(path, _grid(), processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="cat",
                                                     exe="cat")])
    return path


@pytest.mark.sysdig
def test_open_flags_equal_sysdig(grid: Path) -> None:
    if not have_sysdig():
        pytest.skip("sysdig not installed")
    assert diff(grid, FIELDS, limit=40) == []
    # the comparison covers what the gap was about: sysdig's own rows hold openat2 exits
    # that are reads, writes and execs
    rows = [r for r in sysdig_rows(grid, FIELDS).values() if r[:2] == ["openat2", "<"]]
    assert len(rows) == len(FLAGS) * len(MODES)
    for col in (2, 3, 4):
        assert {r[col] for r in rows} == {"true", "false"}


def _values(tmp: Path, recs: list[EventRecord], field: str) -> list[object]:
    """``field`` on each event of a capture of ``recs`` (a thread 100 known)."""
    import sinsp.fields.evt  # noqa: F401  (registers the class)
    from sinsp import Inspector
    from sinsp.fields.registry import REGISTRIES

    path = tmp / f"{field}.scap"
    write_capture(path, recs, processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="cat",
                                                  exe="cat")])
    reg = REGISTRIES["syscall"]
    info, arg = reg.resolve(field)
    with Inspector.from_capture(path) as insp:
        return [info.extract(evt, arg) for evt in insp]


def test_is_open_create(tmp_path: Path) -> None:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    ino = struct.pack("<Q", 7)
    dev = struct.pack("<I", 5)
    rdwr_creat = PPM_O_RDWR | PPM_O_CREAT
    recs = [
        # current libs' own case: the enter has no PPM_O_F_CREATED, the exit has it
        b.build("SYSCALL_OPEN_E", ["/home/file.txt", rdwr_creat, 0]),
        b.build("SYSCALL_OPEN_X", [3, "/home/file.txt", rdwr_creat | PPM_O_F_CREATED, 0, 5,
                                   ino]),
        # O_CREAT alone says the file may be created, not that it was
        b.build("SYSCALL_OPENAT2_X", [4, -100, "/home/f2", rdwr_creat, 0o644, 0, dev, ino]),
        b.build("SYSCALL_OPENAT2_X", [5, -100, "/home/f3", rdwr_creat | PPM_O_F_CREATED,
                                      0o644, 0, dev, ino]),
        # O_TMPFILE creates an unnamed file when the call returns an fd
        b.build("SYSCALL_OPENAT_2_X", [6, -100, "/tmp", PPM_O_RDWR | PPM_O_TMPFILE, 0o600,
                                       0, ino]),
        b.build("SYSCALL_OPENAT_2_X", [-95, -100, "/tmp", PPM_O_RDWR | PPM_O_TMPFILE, 0o600,
                                       0, ino]),
        # creat is not among the types (0.29.3 and current libs alike)
        b.build("SYSCALL_CREAT_X", [7, "/tmp/c", 0o644, 0, ino, struct.pack("<H", 0)]),
        b.build("SYSCALL_OPEN_BY_HANDLE_AT_X", [8, 3, PPM_O_RDONLY | PPM_O_F_CREATED,
                                                "/home/h", 0, 0]),
    ]
    assert _values(tmp_path, recs, "evt.is_open_create") == [False, True, False, True, True, False,
                                                   False, True]


def test_open_by_handle_at_reads_its_flags(tmp_path: Path) -> None:
    """Exit 337: fd, mountfd, flags, path...: read/write from flags, never exec (no mode)."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    recs = [b.build("SYSCALL_OPEN_BY_HANDLE_AT_X", [3 + i, 3, f, "/home/h", 0, 0])
            for i, f in enumerate([PPM_O_RDONLY, PPM_O_WRONLY, PPM_O_RDWR | PPM_O_CREAT])]
    assert _values(tmp_path, recs, "evt.is_open_read") == [True, False, True]
    assert _values(tmp_path, recs, "evt.is_open_write") == [False, True, True]
    assert _values(tmp_path, recs, "evt.is_open_exec") == [False, False, False]


def test_live_openat2_read_is_open_read(tmp_path: Path) -> None:
    """A live (exit-only, current layout) openat2 of /etc/shadow for reading, as the probe
    delivers it: read, not write; the decoded-params path of the open parser agrees."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    rec = b.build("SYSCALL_OPENAT2_X", [3, -100, "/etc/shadow", PPM_O_RDONLY, 0, 0,
                                        struct.pack("<I", 2049), struct.pack("<Q", 7)])
    assert _values(tmp_path, [rec], "evt.is_open_read") == [True]
    assert _values(tmp_path, [rec], "evt.is_open_write") == [False]
