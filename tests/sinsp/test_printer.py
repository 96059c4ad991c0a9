"""The C printer of pysysdig's default line (``sinsp._printer``) against the Python loop.

Both paths must print the same text, line for line, on every real capture and on synthetic
ones built to stress the cache coherence (clone/exec/exit storms, fds closed and reused,
shared fd tables, unknown tids, relative paths, sockets, truncated files), with and without
``-n``.  The sysdig differential tests (tests/differential) check the Python loop against
sysdig 0.29.3 itself.
"""

from __future__ import annotations

import io
import pathlib
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scap.testing import EventBuilder, write_capture
from sinsp import _printer
from sinsp.sysdig_cli import SysdigOptions, run

TRACES = sorted(pathlib.Path("/work/shared/traces/syscalls").glob("*.scap"))
SCENARIOS = ["write", "clone_order_capture", "versions_capture", "net_capture",
             "probes_capture", "newer_syscalls_capture"]


def _scenario() -> Any:
    sys.path.insert(0, str(pathlib.Path(__file__).parent / "parsers"))
    try:
        import _scenario
    finally:
        sys.path.pop(0)
    return _scenario


def _both(path: str, n: int = 0) -> tuple[str, str, Any]:
    """(Python loop output, C printer output, the C run's stats); exceptions must match."""
    outs = []
    errors = []
    for native in (False, True):
        out = io.StringIO()
        _printer.last_stats = None
        try:
            run(SysdigOptions(read=path, max_events=n, native=native), out)
            errors.append(None)
        except Exception as exc:  # the same typed error, raised after the same lines
            errors.append((type(exc), str(exc)))
        outs.append(out.getvalue())
    assert errors[0] == errors[1]
    return outs[0], outs[1], _printer.last_stats


def _same(path: str, counts: tuple[int, ...] = (0,)) -> Any:
    """Compare both paths for each -n; the C run's stats of the first count."""
    first = None
    for n in counts:
        py, c, stats = _both(path, n)
        assert py.splitlines() == c.splitlines(), f"{path} -n {n}"
        assert py == c
        first = stats if first is None else first
    return first


def test_native_module_is_built() -> None:
    """CI must exercise the C path: a missing extension is a failure here, not a skip."""
    assert _printer.available(), _printer.import_error()


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_real_captures_print_the_same(path: pathlib.Path) -> None:
    stats = _same(str(path), (0, 1, 2, 5, 17, 40, 300))
    if path.stem != "empty":  # V1 captures too: their records are laid out again for C
        assert stats is not None and stats.c_lines > 0


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_real_captures_rewritten_v2_print_the_same(path: pathlib.Path,
                                                   tmp_path: pathlib.Path) -> None:
    """Most of the real captures hold V1 records (rewritten by scap, laid out again for C);
    their V2 rewrite goes through the scanner's own buffer."""
    import scap

    dest = tmp_path / "v2.scap"
    with scap.open(str(path)) as cap, scap.Writer(str(dest)) as w:
        w.write_header(machine=cap.machine, interfaces=cap.interfaces, users=cap.users,
                       groups=cap.groups, processes=cap.processes)
        w.write_events(cap)
    stats = _same(str(dest), (0, 3, 11, 300))
    if path.stem != "empty":
        assert stats is not None and stats.c_lines > 0


@pytest.mark.parametrize("maker", SCENARIOS)
def test_scenario_captures_print_the_same(tmp_path: pathlib.Path, maker: str) -> None:
    sc = _scenario()
    path = getattr(sc, maker)(tmp_path / "s.scap") or tmp_path / "s.scap"
    _same(str(path), (0, 3, 10))


def test_c_path_renders_most_lines_of_a_stateless_mix(tmp_path: pathlib.Path) -> None:
    """The events that change no state the line shows are rendered in C."""
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    ev = []
    for k in range(50):
        ev += [b.build("SYSCALL_FSTAT_E", {"fd": 0}), b.build("SYSCALL_FSTAT_X", {"res": 0}),
               b.build("SYSCALL_MMAP_E", [0, 4096, 3, 2, 3, 0]),
               b.build("SYSCALL_MMAP_X", [0x7F00 + k, 1, 2, 3]),
               b.build("GENERIC_E", [0, 60]), b.build("GENERIC_X", [0])]
    path = tmp_path / "m.scap"
    write_capture(path, ev, processes=_scenario().processes())
    stats = _same(str(path))
    assert stats.c_lines == 300 and stats.python_events == 0


def test_truncated_capture(tmp_path: pathlib.Path) -> None:
    sc = _scenario()
    path = sc.write(tmp_path / "s.scap") or tmp_path / "s.scap"
    import gzip

    raw = gzip.decompress(path.read_bytes())
    cut = tmp_path / "cut.scap"
    cut.write_bytes(raw[: len(raw) - 37])
    _same(str(cut))


# -- random event streams ------------------------------------------------------------------

TIDS = [100, 200, 201, 300, 555]  # 555: never described
FDS = [0, 3, 4, 5, 6, 7, 8, 9]
PATHS = ["/etc/passwd", "/tmp/a\x80b", "rel/x", "/", "/var/log/../lib/x", ""]

_action = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(TIDS), st.sampled_from([*FDS, -2]),
              st.sampled_from(PATHS)),
    st.tuples(st.just("close"), st.sampled_from(TIDS), st.sampled_from(FDS), st.booleans()),
    st.tuples(st.just("fstat"), st.sampled_from(TIDS), st.sampled_from([*FDS, -100, -9])),
    st.tuples(st.just("read"), st.sampled_from(TIDS), st.sampled_from(FDS),
              st.binary(max_size=100)),
    st.tuples(st.just("write"), st.sampled_from(TIDS), st.sampled_from(FDS),
              st.sampled_from([b"<13>hello", b"plain"])),
    st.tuples(st.just("mmap"), st.sampled_from(TIDS), st.sampled_from(FDS),
              st.integers(0, 0xFFFF)),
    st.tuples(st.just("clone"), st.sampled_from(TIDS), st.sampled_from([*TIDS, 777, 778]),
              st.sampled_from([0, 1 | 2 | (1 << 13) | (1 << 15) | (1 << 11)])),
    st.tuples(st.just("exit"), st.sampled_from([*TIDS, 777, 778])),
    st.tuples(st.just("exec"), st.sampled_from([*TIDS, 777]), st.sampled_from(["ls", "sh"])),
    st.tuples(st.just("kill"), st.sampled_from(TIDS), st.sampled_from([*TIDS, 777, 1])),
    st.tuples(st.just("socket"), st.sampled_from(TIDS), st.sampled_from(FDS)),
    st.tuples(st.just("connect"), st.sampled_from(TIDS), st.sampled_from(FDS),
              st.booleans()),
    st.tuples(st.just("generic"), st.sampled_from(TIDS), st.integers(0, 400)),
    st.tuples(st.just("access"), st.sampled_from(TIDS), st.sampled_from(PATHS),
              st.integers(0, 7)),
    st.tuples(st.just("enter_only"), st.sampled_from(TIDS), st.sampled_from(FDS)),
    st.tuples(st.just("udp"), st.sampled_from(TIDS), st.sampled_from(FDS)),
    st.tuples(st.just("dgram"), st.sampled_from(TIDS), st.sampled_from(FDS),
              st.sampled_from(["sendto", "sendmsg", "recvfrom"]), st.booleans()),
)


def _events(actions: list[Any]) -> list[Any]:
    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    ev: list[Any] = []
    add = ev.append
    for a in actions:
        kind, tid = a[0], a[1]
        if kind == "open":
            fd, name = a[2], a[3]
            add(b.build("SYSCALL_OPEN_E", {"name": name, "flags": 1, "mode": 0o644}, tid=tid))
            add(b.build("SYSCALL_OPEN_X", {"fd": fd, "name": name, "flags": 1, "mode": 0o644,
                                           "dev": 0}, tid=tid))
        elif kind == "close":
            add(b.build("SYSCALL_CLOSE_E", {"fd": a[2]}, tid=tid))
            add(b.build("SYSCALL_CLOSE_X", {"res": 0 if a[3] else -9}, tid=tid))
        elif kind == "fstat":
            add(b.build("SYSCALL_FSTAT_E", {"fd": a[2]}, tid=tid))
            add(b.build("SYSCALL_FSTAT_X", {"res": 0}, tid=tid))
        elif kind in ("read", "write"):
            up = kind.upper()
            add(b.build(f"SYSCALL_{up}_E", {"fd": a[2], "size": len(a[3])}, tid=tid))
            add(b.build(f"SYSCALL_{up}_X", {"res": len(a[3]), "data": a[3]}, tid=tid))
        elif kind == "mmap":
            add(b.build("SYSCALL_MMAP_E", [a[3] << 12, 4096, 3, 2, a[2], 0], tid=tid))
            add(b.build("SYSCALL_MMAP_X", [0x7F0000000000 + a[3], 10, 20, 0], tid=tid))
        elif kind == "clone":
            child, flags = a[2], a[3]
            add(b.build("SYSCALL_CLONE_20_E", [], tid=tid))
            add(b.build("SYSCALL_CLONE_20_X", dict(
                res=child, exe="/bin/x", args=[], tid=tid, pid=tid, ptid=1, cwd="/",
                fdlimit=1024, pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0,
                comm=f"c{child}", cgroups=[], flags=flags, uid=0, gid=0, vtid=tid, vpid=tid),
                tid=tid))
        elif kind == "exit":
            add(b.build("PROCEXIT_1_E", [0, 0, 0, 0], tid=tid))
        elif kind == "exec":
            add(b.build("SYSCALL_EXECVE_19_E", {"filename": f"/bin/{a[2]}"}, tid=tid))
            add(b.build("SYSCALL_EXECVE_19_X", dict(
                res=0, exe=f"/bin/{a[2]}", args=[], tid=tid, pid=tid, ptid=1, cwd="/",
                fdlimit=1024, pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0,
                comm=a[2], cgroups=[], env=[], tty=0, pgid=tid, loginuid=0, flags=0),
                tid=tid))
        elif kind == "kill":
            add(b.build("SYSCALL_KILL_E", {"pid": a[2], "sig": 9}, tid=tid))
            add(b.build("SYSCALL_KILL_X", {"res": 0}, tid=tid))
        elif kind == "socket":
            add(b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 1, "proto": 0}, tid=tid))
            add(b.build("SOCKET_SOCKET_X", {"fd": a[2]}, tid=tid))
        elif kind == "connect":
            from scap import SockAddr, SockTuple

            addr = SockAddr(2, "10.0.0.9", 80) if a[3] else SockAddr(1, "/run/s.sock", 0)
            tup = (SockTuple(2, "10.0.0.1", 4000, "10.0.0.9", 80, "") if a[3]
                   else SockTuple(1, 0xFFFF1, 0, 0xFFFF2, 0, "/run/s.sock"))
            add(b.build("SOCKET_CONNECT_E", {"fd": a[2], "addr": addr}, tid=tid))
            add(b.build("SOCKET_CONNECT_X", {"res": 0, "tuple": tup}, tid=tid))
        elif kind == "generic":
            add(b.build("GENERIC_E", [a[2], a[2]], tid=tid))
            add(b.build("GENERIC_X", [a[2]], tid=tid))
        elif kind == "access":
            add(b.build("SYSCALL_ACCESS_E", {"mode": a[3]}, tid=tid))
            add(b.build("SYSCALL_ACCESS_X", {"res": 0, "name": a[2]}, tid=tid))
        elif kind == "enter_only":
            add(b.build("SYSCALL_READ_E", {"fd": a[2], "size": 1}, tid=tid))
        elif kind == "udp":
            add(b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 2, "proto": 0}, tid=tid))
            add(b.build("SOCKET_SOCKET_X", {"fd": a[2]}, tid=tid))
        elif kind == "dgram":
            from scap import SockTuple

            fd, call, ok = a[2], a[3], a[4]
            tup = SockTuple(2, "10.0.0.1", 4000, "10.0.0.9", 53, "")
            res = 3 if ok else -11
            if call == "recvfrom":
                add(b.build("SOCKET_RECVFROM_E", {"fd": fd, "size": 9}, tid=tid))
                add(b.build("SOCKET_RECVFROM_X", {"res": res, "data": b"xyz", "tuple": tup},
                            tid=tid))
            else:
                up = call.upper()
                add(b.build(f"SOCKET_{up}_E", {"fd": fd, "size": 3, "tuple": tup}, tid=tid))
                add(b.build(f"SOCKET_{up}_X", {"res": res, "data": b"<1>"}, tid=tid))
    return ev


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(_action, min_size=1, max_size=60), n=st.sampled_from([0, 0, 7, 31]))
def test_random_streams_print_the_same(tmp_path: pathlib.Path, actions: list[Any],
                                       n: int) -> None:
    path = tmp_path / "r.scap"
    write_capture(path, _events(actions), processes=_scenario().processes())
    _same(str(path), (n,))


def test_without_the_extension_the_python_loop_prints(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: pathlib.Path) -> None:
    """A missing (or stale) extension falls back to the Python loop, same text."""
    sc = _scenario()
    path = sc.net_capture(tmp_path / "s.scap") or tmp_path / "s.scap"
    want = io.StringIO()
    run(SysdigOptions(read=str(path), native=False), want)
    monkeypatch.setattr(_printer, "_lib", None)
    monkeypatch.setattr(_printer, "_import_error", "not built (test)")
    _printer.last_stats = None
    got = io.StringIO()
    run(SysdigOptions(read=str(path)), got)
    assert _printer.last_stats is None  # the C printer did not run
    assert got.getvalue() == want.getvalue() != ""


def _print_with(path: str, native: bool, **kw: Any) -> str:
    """sysdig_cli.run's default-format path on an inspector built with ``kw``."""
    from scap import schema
    from sinsp import Inspector
    from sinsp import format as fmt
    from sinsp.parsers.prefilter import output_fields
    from sinsp.sysdig_cli import _internal_types, _print_prefiltered

    internal = _internal_types()
    shown = [t for t in range(len(schema.EVENT_INFO)) if t not in internal]
    out = io.StringIO()
    with Inspector.from_capture(path, event_types=shown,
                                fields=output_fields(fmt.DEFAULT_FORMAT), **kw) as insp:
        render = fmt.Formatter(fmt.DEFAULT_FORMAT, fmt.default_registry()).render
        if native:
            _printer.print_default(insp, render, out, internal, 0)
        else:
            from itertools import chain

            _print_prefiltered(insp, chain.from_iterable(insp.source.batches()), render, out,
                               internal, 0)
    return out.getvalue()


def test_storm_with_evictions_prints_the_same(tmp_path: pathlib.Path) -> None:
    """Clone/exec/exit and open/close storms on tiny thread and fd tables: every eviction
    reaches the cache (ThreadTable.listener, the fd re-check)."""
    import random

    rnd = random.Random(7)
    actions: list[Any] = []
    tids = [100, 200, 201, 300]
    for k in range(700):
        r = rnd.random()
        tid = rnd.choice(tids)
        if r < 0.1:
            child = 1000 + k
            actions.append(("clone", tid, child, rnd.choice([0, 1 | 2 | (1 << 13)])))
            tids.append(child)
        elif r < 0.15 and len(tids) > 3:
            actions.append(("exit", tids.pop(rnd.randrange(len(tids)))))
        elif r < 0.2:
            actions.append(("exec", tid, rnd.choice(["ls", "sh"])))
        elif r < 0.45:
            actions.append(("open", tid, rnd.randrange(12), rnd.choice(PATHS)))
        elif r < 0.6:
            actions.append(("close", tid, rnd.randrange(12), rnd.random() < 0.8))
        elif r < 0.75:
            actions.append(("fstat", tid, rnd.randrange(12)))
        elif r < 0.85:
            actions.append(("kill", tid, rnd.choice(tids)))
        else:
            actions.append(("read", tid, rnd.randrange(12), b"x" * rnd.randrange(120)))
    path = tmp_path / "storm.scap"
    write_capture(path, _events(actions), processes=_scenario().processes())
    for kw in ({}, {"max_threads": 6, "max_fds": 3}):
        want = _print_with(str(path), False, **kw)
        got = _print_with(str(path), True, **kw)
        assert got.splitlines() == want.splitlines(), kw
        assert _printer.last_stats is not None and _printer.last_stats.c_lines > 100


def test_close_exits_are_handled_in_c(tmp_path: pathlib.Path) -> None:
    """A close exit whose enter C rendered is handled in C (line, cache) and its fd removed
    from the state right after: later lines of the same and of fd-sharing threads show the
    fd gone (or kept, after a failed close), as the Python loop does."""
    actions: list[Any] = [
        ("open", 100, 3, "/etc/a"), ("close", 100, 3, True), ("fstat", 100, 3),
        ("open", 100, 3, "/etc/b"), ("close", 100, 3, False), ("fstat", 100, 3),
        ("clone", 100, 777, 1 | 2 | (1 << 13) | (1 << 15) | (1 << 11)),  # CLONE_FILES
        ("open", 100, 4, "/etc/c"), ("fstat", 777, 4), ("close", 777, 4, True),
        ("fstat", 100, 4), ("fstat", 777, 4),
        ("close", 100, 3, True), ("close", 100, 3, True), ("fstat", 100, 3),
        ("close", 555, 5, True), ("fstat", 555, 5),  # a tid the state makes up
        # the state itself lost the fd: a connect (parsed in Python) finds no socket
        ("socket", 100, 6), ("close", 100, 6, True), ("connect", 100, 6, True),
        ("fstat", 100, 6),
    ]
    path = tmp_path / "c.scap"
    write_capture(path, _events(actions), processes=_scenario().processes())
    stats = _same(str(path), (0, 5, 12))
    py, _c, _ = _both(str(path))
    assert "fd=3(<f>/etc/b)" in py  # the failed close kept /etc/b open
    # only the opens, the clone and the made-up thread's first event reach Python: every
    # close of a described thread is C's
    closes = sum(1 for a in actions if a[0] == "close" and a[1] != 555)
    assert stats.python_events <= len(actions) + 1 - closes  # (connect: enter and exit)


def test_datagram_exits_on_unknown_fds_are_handled_in_c(tmp_path: pathlib.Path) -> None:
    """send/recv exits whose enter's fd is not in the table change nothing: C prints them
    (the fd checked absent in its cache, filled on a miss); on a known socket the tuple
    renames it in Python, and later lines show the new name."""
    from scap import SockTuple

    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    out = SockTuple(2, "10.0.0.1", 4000, "10.0.0.9", 53, "")
    back = SockTuple(2, "10.0.0.9", 53, "10.0.0.1", 4000, "")
    ev = [b.build("SOCKET_SOCKET_E", {"domain": 2, "type": 2, "proto": 0}),
          b.build("SOCKET_SOCKET_X", {"fd": 6})]
    unknown = 0
    for fd in (6, 9, 6, 11, 9):  # 6: the UDP socket; 9, 11: no such fd
        ev += [b.build("SOCKET_SENDTO_E", {"fd": fd, "size": 3, "tuple": out}),
               b.build("SOCKET_SENDTO_X", {"res": 3, "data": b"abc"}),
               b.build("SOCKET_SENDMSG_E", {"fd": fd, "size": 2, "tuple": out}),
               b.build("SOCKET_SENDMSG_X", {"res": 2, "data": b"<1"}),
               b.build("SOCKET_RECVFROM_E", {"fd": fd, "size": 9}),
               b.build("SOCKET_RECVFROM_X", {"res": 3, "data": b"xyz", "tuple": back}),
               b.build("SYSCALL_FSTAT_E", {"fd": fd}), b.build("SYSCALL_FSTAT_X", {"res": 0})]
        unknown += 3 * (fd != 6)
    path = tmp_path / "d.scap"
    write_capture(path, ev, processes=_scenario().processes())
    stats = _same(str(path), (0, 9))
    py, _c, _ = _both(str(path))
    assert "fd=6(<4u>10.0.0.1:4000->10.0.0.9:53)" in py  # renamed by the first sendto
    datagram_exits = 3 * 5
    assert stats.python_events <= 1 + datagram_exits - unknown


def test_cli_stdout_bytes_match_the_python_loop(tmp_path: pathlib.Path) -> None:
    """pysysdig's own stdout takes C's ASCII output as bytes (no decode/encode round trip);
    other text (a non-ASCII comm here) still goes through the text layer: same bytes."""
    import subprocess

    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    ev = [b.build("SYSCALL_FSTAT_E", {"fd": 0}), b.build("SYSCALL_FSTAT_X", {"res": 0})]
    ev += _events([("clone", 100, 777, 0), ("exec", 777, "sh"), ("fstat", 777, 3)])
    ev += [b.build("SYSCALL_EXECVE_19_X", dict(
        res=0, exe="/bin/\u00e9t\u00e9", args=[], tid=777, pid=777, ptid=1, cwd="/",
        fdlimit=1024, pgft_maj=0, pgft_min=0, vm_size=1, vm_rss=1, vm_swap=0,
        comm="\u00e9t\u00e9", cgroups=[], env=[], tty=0, pgid=777, loginuid=0, flags=0),
        tid=777)]
    ev += _events([("fstat", 777, 3)])
    odd = tmp_path / "odd.scap"
    write_capture(odd, ev, processes=_scenario().processes())
    for path in [*TRACES[:2], odd]:
        want = io.StringIO()
        run(SysdigOptions(read=str(path), native=False), want)
        got = subprocess.run([sys.executable, "-m", "sinsp.sysdig_cli", "-r", str(path)],
                             capture_output=True, check=True).stdout
        assert got == want.getvalue().encode("utf-8", "surrogateescape"), path
    assert "\u00e9t\u00e9" in want.getvalue()
