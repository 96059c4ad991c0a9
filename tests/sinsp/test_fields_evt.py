"""evt.* fields on the real captures; expected values are what sysdig 0.29.3 prints for the
same events (``sysdig -r F -p '*%evt.num %field'``), copied from its output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sinsp import Inspector
from sinsp.fields import evt as evt_fields
from sinsp.format import DEFAULT_OPTIONS, Formatter, default_registry

TRACES = Path("/work/shared/traces/syscalls")
pytestmark = pytest.mark.skipif(not TRACES.is_dir(), reason="real captures not available")


def fields_at(capture: str, nums: set[int], names: list[str]) -> dict[int, list[str]]:
    """Render ``names`` (through one formatter, as pysysdig does) for events ``nums``."""
    f = Formatter("*" + "\x01".join("%" + n for n in names), default_registry())
    out: dict[int, list[str]] = {}
    with Inspector.from_capture(str(TRACES / capture)) as insp:
        for e in insp:
            evt_fields.note_first_ts(insp, e.record.ts)  # as pysysdig does (evt.reltime)
            if e.num in nums:
                line = f.render(e)
                assert line is not None
                out[e.num] = line.split("\x01")
            if e.num >= max(nums):
                break
    return out


def test_result_fields_on_connect() -> None:
    got = fields_at("connect_localhost.scap", {184, 189, 187},
                    ["evt.res", "evt.rawres", "evt.failed", "evt.category", "syscall.type",
                     "evt.count.exit", "evt.count.error", "evt.arg[0]", "evt.rawarg.res"])
    assert got[184] == ["<NA>", "<NA>", "false", "net", "socket", "<NA>", "<NA>", "AF_INET",
                        "<NA>"]
    assert got[189] == ["SUCCESS", "14", "false", "net", "socket", "1", "<NA>", "<u>", "<NA>"]
    assert got[187] == ["EINPROGRESS", "-115", "true", "net", "connect", "1", "1", "EINPROGRESS",
                        "-115"]


def test_times_and_latency() -> None:
    got = fields_at("connect_localhost.scap", {184, 185, 187, 191},
                    ["evt.rawtime.ns", "evt.reltime", "evt.latency", "evt.latency.human",
                     "evt.time.iso8601", "evt.datetime.s"])
    assert got[184] == ["470393498", "470393499", "0", "0ns",
                        "2018-04-02T21:27:03.470393498+0000", "2018-04-02 21:27:03"]
    assert got[185][2:4] == ["56061", "56us"]
    assert got[187][2:4] == ["124013", "124us"]
    assert got[191][2:4] == ["5405", "5.40us"]


def test_open_fields() -> None:
    got = fields_at("syscall.scap", {179, 180},
                    ["evt.is_open_read", "evt.is_open_write", "evt.res", "evt.rawres",
                     "evt.is_io_read", "evt.buflen", "evt.latency.human"])
    assert got[179] == ["false", "false", "<NA>", "<NA>", "false", "<NA>", "0ns"]
    assert got[180] == ["true", "false", "SUCCESS", "3", "false", "<NA>", "4.45us"]


@pytest.mark.parametrize(("ns", "text"), [
    (0, "0ns"), (668, "668ns"), (3719, "3.71us"), (4455, "4.45us"), (5405, "5.40us"),
    (20352, "20us"), (56061, "56us"), (124013, "124us"),
])  # fmt: skip
def test_human_time_truncates_like_sysdig(ns: int, text: str) -> None:
    assert evt_fields.human_time(ns) == text


def test_deltatime_is_per_formatter() -> None:
    """Two formatters over the same events keep separate previous timestamps."""
    a = Formatter("*%evt.deltatime", default_registry())
    b = Formatter("*%evt.deltatime", default_registry())
    seen: list[tuple[str | None, str | None]] = []
    with Inspector.from_capture(str(TRACES / "connect_localhost.scap")) as insp:
        for e in insp:
            if e.num in (185, 187):
                seen.append((a.render(e), None))
            if e.num in (185, 186, 187):
                seen.append((None, b.render(e)))
            if e.num >= 187:
                break
    assert [x for x, _ in seen if x is not None] == ["0", str(470627540 - 470449559)]
    assert [y for _, y in seen if y is not None] == ["0", "53968", "124013"]


def test_evt_type_is() -> None:
    """In filters evt.type.is.X is 1 for X events, 0 otherwise; sysdig 0.29.3 prints it as
    <NA> (an integer field without a print format), and so do we."""
    reg = default_registry()
    info, arg = reg.resolve("evt.type.is.open")
    assert info.name == "evt.type.is" and arg == "open"
    values = {}
    with Inspector.from_capture(str(TRACES / "syscall.scap")) as insp:
        for e in insp:
            if e.num in (179, 183):
                values[e.num] = (info.extractor(e, "open"), info.extractor(e, "3"))
            if e.num >= 183:
                break
    assert values == {179: (1, 0), 183: (0, 0)}
    got = fields_at("syscall.scap", {179}, ["evt.type.is.open"])
    assert got[179] == ["<NA>"]


def test_every_sysdig_evt_field_is_registered() -> None:
    """The evt fields sysdig 0.29.3 lists (sysdig -l), all resolvable."""
    names = """evt.num evt.time evt.time.s evt.time.iso8601 evt.datetime evt.datetime.s
    evt.rawtime evt.rawtime.s evt.rawtime.ns evt.reltime evt.reltime.s evt.reltime.ns
    evt.pluginname evt.plugininfo evt.latency evt.latency.s evt.latency.ns evt.latency.human
    evt.deltatime evt.deltatime.s evt.deltatime.ns evt.dir evt.type evt.type.is syscall.type
    evt.category evt.cpu evt.args evt.arg evt.rawarg evt.info evt.buffer evt.buflen evt.res
    evt.rawres evt.failed evt.is_io evt.is_io_read evt.is_io_write evt.io_dir evt.is_wait
    evt.wait_latency evt.is_syslog evt.count evt.count.error evt.count.error.file
    evt.count.error.net evt.count.error.memory evt.count.error.other evt.count.exit
    evt.around evt.abspath evt.is_open_read evt.is_open_write evt.is_open_exec""".split()
    by_name = {f.name for _, f in default_registry().list_fields(include_hidden=True)}
    assert set(names) <= by_name


def test_args_use_buffer_options() -> None:
    """-v prints buffers whole: the 80-character cut of the default output goes away."""
    long: Any = None
    short: Any = None
    import dataclasses

    full = Formatter("*%evt.args", default_registry(),
                     dataclasses.replace(DEFAULT_OPTIONS, max_buf_len=0))
    cut = Formatter("*%evt.args", default_registry())
    with Inspector.from_capture(str(TRACES / "cat_write.scap")) as insp:
        for e in insp:
            if e.num == 131:  # execve exit with long cgroups/env buffers
                long, short = full.render(e), cut.render(e)
                break
    assert ("cgroups=cpuset=/user.slice/user-1000.slice/session-1.scope.cpu=/user.slice/"
            "user-1000.... ") in short
    assert "..." not in long.split(" env=")[0]
    assert len(long) > len(short)


@pytest.mark.sysdig
@pytest.mark.skipif(__import__("shutil").which("sysdig") is None, reason="sysdig not installed")
def test_syslog_writes_match_sysdig(tmp_path: Path) -> None:
    """Writes to /dev/log: evt.info becomes ``syslog sev=… msg=…`` and syslog.* decode the
    priority, as sysdig's syslog decoder does (expected output is sysdig's own)."""
    import subprocess
    import sys

    from scap.metadata import FdEntry, ProcInfo
    from scap.testing import EventBuilder, write_capture

    b = EventBuilder(tid=100)
    path = tmp_path / "syslog.scap"
    write_capture(path, [
        b.build("SYSCALL_WRITE_E", [3, 30]),
        b.build("SYSCALL_WRITE_X", [30, b"<30>Nov 28 12:00:00 app: hello"]),
        b.build("SOCKET_SENDTO_E", [3, 30, None]),
        b.build("SOCKET_SENDTO_X", [30, b"<11>app[12]: failure here"]),
        b.build("SYSCALL_WRITE_X", [5, b"plain"]),
    ], processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="logger", exe="logger", cwd="/",
                           fds=[FdEntry(fd=3, ino=5, type=8, name="/dev/log")])])  # fmt: skip
    fmt = ("*%evt.num %evt.is_syslog %syslog.facility %syslog.facility.str %syslog.severity "
           "%syslog.severity.str %syslog.message %evt.info")
    for extra in ([], ["-p", fmt], ["-j", "-p", fmt]):
        theirs = subprocess.run(["sysdig", "-r", str(path), *extra], capture_output=True,
                                check=True).stdout  # fmt: skip
        ours = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(path),
                               *extra], capture_output=True, check=True).stdout  # fmt: skip
        assert ours == theirs
    assert b"syslog sev=err msg=app[12]: failure here" in ours
