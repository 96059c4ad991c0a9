"""``pysysdig`` without ``-r``: live capture from our eBPF probe.

Records while doing real actions (open a marked file, connect to a loopback listener, exec a
child), then checks that sysdig 0.29.3 reads the file back and shows those events with the
same evt.type / proc.name / fd.name that ``pysysdig -r`` prints for the same file."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.drivers.conftest import requires_bpf

REPO = Path(__file__).resolve().parents[2]
FMT = "*%evt.type|%proc.name|%fd.name|%proc.args"


def _pysysdig(*args: str, **kw):
    return subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, **kw)


def test_live_without_root_is_a_clear_error():
    cmd = [sys.executable, "-m", "sinsp.sysdig_cli", "-M", "1"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root and no setpriv to drop privileges")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "needs root" in res.stderr and "-r FILE" in res.stderr


@pytest.mark.bpf
@pytest.mark.root
@requires_bpf
def test_live_print_lines_and_n_limit(tmp_path):
    """Live lines like sysdig's default format, only the filter's events, -n stops it."""
    marker = tmp_path / "pyfalco-live-print.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sinsp.sysdig_cli", "-n", "2", "-M", "60",
         f"evt.type=openat and fd.name={marker}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:  # until -n 2 stops it
        with open(marker, "w"):
            pass
        time.sleep(0.2)
    outp, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = outp.splitlines()
    assert len(lines) == 2, outp
    for ln in lines:
        # "<num> <time> <cpu> <comm> (<tid>) < openat fd=N(<f>path) dirfd=... name=path ..."
        parts = ln.split(" ")
        assert parts[5:7] == ["<", "openat"], ln
        assert f"(<f>{marker})" in ln and f"name={marker} " in ln, ln


@pytest.mark.bpf
@pytest.mark.root
@pytest.mark.sysdig
@requires_bpf
@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig not installed")
def test_live_record_reads_back_in_sysdig_like_pysysdig(tmp_path):
    out = tmp_path / "live.scap"
    marker = tmp_path / "pyfalco-live-marker.txt"
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    # a filter bounding the event types: the kernel table gets these + the state syscalls
    proc = subprocess.Popen(
        [sys.executable, "-m", "sinsp.sysdig_cli", "-w", str(out), "-M", "30",
         "evt.type in (openat, connect, execve, close)"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the output file is created once the probe is attached and /proc was read
    deadline = time.monotonic() + 60
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    actor = subprocess.run([sys.executable, "-c", f"""
import os, socket, subprocess
fd = os.open({str(marker)!r}, os.O_WRONLY | os.O_CREAT, 0o644); os.close(fd)
c = socket.create_connection(("127.0.0.1", {port})); c.close()
subprocess.run(["/bin/true", "pyfalco-live-child"], check=True)
"""], check=True, timeout=60)
    assert actor.returncode == 0
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    srv.close()
    assert proc.returncode == 0, err
    # the final stderr line counts what sysdig 0.29.3 could not have read
    assert "dropped" in err.splitlines()[-1] and "sysdig 0.29.3" in err, err

    flt = (f"(evt.type=openat and fd.name={marker}) or "
           f"(evt.type=connect and fd.name contains :{port}) or "
           "(evt.type=execve and proc.args contains pyfalco-live-child)")
    sd = subprocess.run(["sysdig", "-r", str(out), "-p", FMT, flt], capture_output=True,
                        text=True, timeout=120, check=True).stdout.splitlines()
    ours = _pysysdig("-r", str(out), "-p", FMT, flt)
    assert ours.returncode == 0, ours.stderr
    py = ours.stdout.splitlines()
    assert any(ln.startswith("openat|python") and f"|{marker}|" in ln for ln in sd), sd
    assert any(ln.startswith("connect|python") and f"->127.0.0.1:{port}|" in ln for ln in sd), sd
    assert any(ln.startswith("execve|true|") and ln.endswith("|pyfalco-live-child")
               for ln in sd), sd
    assert py == sd


@pytest.mark.bpf
@pytest.mark.root
@requires_bpf
def test_kernel_table_follows_the_filter():
    """A filter that bounds the event types sets the probe's syscall table to those plus the
    state syscalls; no filter (or an unbounded one) records every syscall."""
    from scap.engines.bpf import STATE_SYSCALLS
    from sinsp import format as fmt
    from sinsp.filter import compile_filter
    from sinsp.sysdig_cli import LiveSession, SysdigOptions

    reg = fmt.default_registry()
    cases = [("evt.type=read and fd.num=0", True), ("proc.name=bash", False), ("", False)]
    for text, bounded in cases:
        flt = compile_filter(text, reg) if text else None
        live = LiveSession(SysdigOptions(filter=text, duration=0.1), flt)
        try:
            if bounded:
                assert live.syscalls is not None
                assert "read" in live.syscalls and live.syscalls >= STATE_SYSCALLS
                assert "write" not in live.syscalls and "nanosleep" not in live.syscalls
            else:
                assert live.syscalls is None, text
        finally:
            live.close()
