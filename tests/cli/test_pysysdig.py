"""The ``pysysdig`` command: options, errors, and the written captures.

Output equality with sysdig itself is covered in tests/differential; these check the command
line surface through click's runner (fast, in-process) and the console script once.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import scap
from sinsp.sysdig_cli import SysdigOptions, main, run

TRACES = Path("/work/shared/traces/syscalls")
CAT = TRACES / "cat_write.scap"
pytestmark = pytest.mark.skipif(not CAT.exists(), reason="real captures not available")


def invoke(*args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    res = runner.invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_default_hides_internal_events() -> None:
    code, out, _ = invoke("-r", str(CAT))
    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 85  # sysdig -r cat_write.scap prints 85 lines (345 with -D)
    assert all(" procinfo " not in line for line in lines)
    assert lines[0].startswith("131 ") and " cat (20072) < execve res=0 exe=cat " in lines[0]


def test_debug_shows_everything_and_n_counts_filtered_events() -> None:
    code, out, _ = invoke("-r", str(CAT), "-D")
    assert code == 0 and len(out.splitlines()) == 345
    # -n counts events that pass the filter (shown or not)
    code, out, _ = invoke("-r", str(CAT), "-n", "3", "evt.type=close")
    assert [line.split()[0] for line in out.splitlines()] == ["146", "147", "164"]
    code, out, _ = invoke("-r", str(CAT), "-n", "3")
    assert out == ""  # the first three events are procinfo: counted, not shown


def test_print_format_and_star() -> None:
    code, out, _ = invoke("-r", str(CAT), "-p", "%evt.num %fd.name", "evt.type=open")
    assert code == 0
    # without '*', events with an N/A field are not printed (open enter has no fd)
    assert out.splitlines()[0] == "141 /etc/ld.so.cache"
    code, out, _ = invoke("-r", str(CAT), "-p", "*%evt.num %fd.name", "evt.type=open")
    assert code == 0
    assert out.splitlines()[0] == "140 <NA>"


def test_json_lines() -> None:
    code, out, _ = invoke("-r", str(CAT), "-j", "-n", "135")
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert first["evt.num"] == 131 and first["evt.type"] == "execve"
    assert first["evt.outputtime"] == 1470327477881730713
    assert first["thread.tid"] == 20072 and first["proc.name"] == "cat"
    assert "cgroups=cpuset=/user.slice" in first["evt.info"]
    assert "..." not in first["evt.info"].split(" env=")[0]  # JSON buffers are not cut


def test_write_gzip_and_plain(tmp_path: Path) -> None:
    gz, plain = tmp_path / "a.scap.gz", tmp_path / "b.scap"
    assert invoke("-r", str(CAT), "-w", str(gz), "-z")[0] == 0
    assert invoke("-r", str(CAT), "-w", str(plain))[0] == 0
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    assert plain.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()
    with scap.open(str(CAT)) as a, scap.open(str(plain)) as b:
        assert [r.raw for r in a] == [r.raw for r in b]
        assert len(b.processes) == len(a.processes) and b.users == a.users


def test_write_filtered_keeps_internal(tmp_path: Path) -> None:
    out = tmp_path / "f.scap"
    assert invoke("-r", str(CAT), "-w", str(out), "evt.type=read")[0] == 0
    with scap.open(str(out)) as cap:
        names = {r.name for r in cap}
    assert names == {"procinfo", "read"}


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "%nosuch.field"], "invalid formatting token"),
    (["-p", "%fd.ip"], "filter-only"),
    (["evt.type=open and"], "Error"),
    (["proc.nosuch=1"], "Error"),
])  # fmt: skip
def test_errors_exit_1_with_a_message(args: list[str], message: str) -> None:
    code, _, err = invoke("-r", str(CAT), *args)
    assert code == 1
    assert message in err


def test_missing_file() -> None:
    code, _, err = invoke("-r", "/nonexistent/x.scap")
    assert code == 1 and "pysysdig:" in err


def test_run_api_writes_to_a_stream() -> None:
    import io

    buf = io.StringIO()
    assert run(SysdigOptions(read=str(CAT), format="%evt.num", max_events=140), buf) == 0
    assert buf.getvalue().splitlines() == [str(n) for n in range(131, 141)]


@pytest.mark.skipif(shutil.which("pysysdig") is None and not Path(".venv/bin/pysysdig").exists(),
                    reason="console script not installed")
def test_console_script() -> None:
    exe = shutil.which("pysysdig") or ".venv/bin/pysysdig"
    out = subprocess.run([exe, "-r", str(CAT), "-n", "140", "-p", "%evt.num"],
                         capture_output=True, check=True, text=True).stdout  # fmt: skip
    assert out.splitlines()[-1] == "140"


def test_types_past_the_0_29_3_table_are_skipped(tmp_path: Path) -> None:
    """sysdig 0.29.3 drops event types >= 336 (useradded ...): not shown, no state change.
    (It does not number them either; numbering follows the reader's record sequence.)"""
    from scap.metadata import ProcInfo
    from scap.testing import EventBuilder, write_capture

    b = EventBuilder(tid=100)
    path = tmp_path / "new.scap"
    write_capture(path, [
        b.build("SYSCALL_OPEN_E", ["/etc/passwd", 1, 0]),
        b.build(354, [1000, 1000, "bob", "/home/bob", "/bin/sh", ""]),  # useradded
        b.build("SYSCALL_OPEN_X", [3, "/etc/passwd", 1, 0, 0]),
    ], processes=[ProcInfo(tid=100, pid=100, ptid=1, comm="cat", exe="cat", cwd="/")])
    code, out, _ = invoke("-r", str(path), "-D", "-p", "*%evt.type %evt.dir %fd.name")
    assert code == 0
    assert out.splitlines() == ["open > <NA>", "open < /etc/passwd"]
    copy = tmp_path / "copy.scap"
    invoke("-r", str(path), "-w", str(copy))
    with scap.open(str(copy)) as cap:
        assert [r.type for r in cap] == [2, 354, 3]


def test_list_fields() -> None:
    code, out, _ = invoke("-l")
    assert code == 0
    assert "Field Class:                  evt\n" in out
    names = {line.split()[0] for line in out.splitlines() if line[:1].isalpha()
             and not line.startswith(("Field Class", "Description"))}  # fmt: skip
    assert {"evt.num", "fd.name", "fdlist.nums", "fs.path.name", "syslog.message",
            "proc.name"} <= names  # fmt: skip
    assert "evt.outputtime" not in names  # print-only helper, hidden as in sysdig -l
