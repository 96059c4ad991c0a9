"""The prefilter (``Inspector.from_capture(path, event_types=...)``) must not change what a
consumer sees: on every real capture, for a set of Falco conditions (and the bundled rules),
the matching events, their ``evt.num`` and their state-derived fields are identical with and
without it, while the events that reach Python are fewer."""
from __future__ import annotations

import glob
import pathlib

import pytest

import scap
from sinsp import Inspector
from sinsp.filter import compile_filter
from sinsp.format import default_registry
from sinsp.parsers.prefilter import (
    fields_of,
    filter_prefilter,
    output_fields,
    prefilter_types,
    rules_interest,
    rules_prefilter,
    state_event_types,
)

TRACES = sorted(glob.glob("/work/shared/traces/syscalls/*.scap"))
ROOT = pathlib.Path(__file__).resolve().parents[2]
FIELDS = ("evt.num", "evt.type", "proc.name", "fd.name", "user.name", "proc.pname",
          "proc.cmdline", "proc.exepath", "fd.num")
CONDITIONS = (
    "evt.type in (open, openat, openat2) and fd.name startswith /etc",
    "evt.type in (open, openat, openat2) and evt.dir = <",
    "evt.type = close",
    "evt.type in (execve, execveat) and evt.dir = <",
    "evt.type in (connect, accept, accept4, sendto, sendmsg) and evt.dir = <",
    "evt.type in (read, write, readv, writev) and fd.num >= 0",   # not state events
    "evt.type in (mmap, brk) and evt.dir = < and proc.vmsize > 0",   # aux state via fields
    "evt.type = procexit",
    "evt.type != switch and proc.name = ping",   # (no prefilter: != gives ~all types)
)

pytestmark = pytest.mark.skipif(not TRACES, reason="no real captures under /work/shared/traces")


def _registry():
    return default_registry()


def _run(path: str, flt, names, event_types) -> tuple[list[tuple], int, int]:
    reg = _registry()
    infos = [reg.resolve(n) for n in names]
    out = []
    with Inspector.from_capture(path, event_types=event_types, fields=names) as insp:
        for evt in insp:
            if flt.event_types is not None and evt.record.type not in flt.event_types:
                assert event_types is None  # with a prefilter only those types come out
                continue
            if flt.matches(evt):
                out.append(tuple(info.extract(evt, arg) for info, arg in infos))
        return out, insp.stats.events, insp.prefiltered


@pytest.mark.parametrize("cond", CONDITIONS)
@pytest.mark.parametrize("path", TRACES, ids=lambda p: pathlib.Path(p).stem)
def test_same_matches_and_fields(path: str, cond: str) -> None:
    flt = compile_filter(cond, _registry())
    names = sorted(set(FIELDS) | fields_of(flt.ast))
    full, n_full, skipped_full = _run(path, flt, names, None)
    pre, n_pre, skipped = _run(path, flt, names, flt.event_types)
    assert pre == full
    assert skipped_full == 0
    assert n_pre + skipped == n_full  # every event numbered, parsed or not
    wanted = prefilter_types(flt.event_types, names)
    with scap.open(path) as cap:
        assert skipped == sum(1 for r in cap if wanted is not None and r.type not in wanted)


@pytest.mark.parametrize("path", TRACES, ids=lambda p: pathlib.Path(p).stem)
def test_rules_same_alerts(path: str) -> None:
    from engine import RuleEngine

    eng = RuleEngine()
    assert eng.load_files([ROOT / "rules" / "falco_rules.yaml"]).successful

    def alerts(event_types, fields=None):
        out = []
        with Inspector.from_capture(path, event_types=event_types, fields=fields) as insp:
            for evt in insp:
                for m in eng.process(evt):
                    out.append((evt.num, m.rule, eng.format_alert(m, evt).output))
            return out, insp.prefiltered

    types, fields = rules_interest(eng.enabled_rules("syscall"))
    assert types is not None and "proc.name" in fields
    full, _ = alerts(None)
    pre, skipped = alerts(types, fields)
    assert pre == full
    assert skipped > 0
    # the final set a live source would use is the same one
    assert rules_prefilter(eng.enabled_rules("syscall")) == prefilter_types(types, fields)


def test_state_set_contents() -> None:
    from scap.schema import event_types_by_name

    core = state_event_types([])
    for name in ("clone", "clone3", "fork", "vfork", "execve", "execveat", "procexit", "open",
                 "openat", "openat2", "close", "socket", "connect", "accept4", "bind", "dup2",
                 "pipe2", "fcntl", "eventfd2", "signalfd4", "timerfd_create", "inotify_init1",
                 "memfd_create", "chdir", "fchdir", "setuid", "setresgid", "setsid", "prctl",
                 "container", "sendmsg", "recvfrom", "bpf", "getcwd"):
        types = event_types_by_name(name)
        assert types and types <= core, name
    for name in ("read", "write", "fstat", "mmap", "switch", "prlimit", "procinfo"):
        assert not event_types_by_name(name) & core, name
    # aux state comes back with the fields that read it, or when fields are unknown
    assert event_types_by_name("mmap") <= state_event_types(["proc.vmsize"])
    assert event_types_by_name("switch") <= state_event_types(["thread.pfminor"])
    assert event_types_by_name("prlimit") <= state_event_types(["proc.fdlimit"])
    assert event_types_by_name("mmap") | event_types_by_name("prlimit") <= state_event_types()


def test_prefilter_adds_enters_and_passes_none() -> None:
    from scap.schema import event_types_by_name

    assert prefilter_types(None) is None
    read = event_types_by_name("read")
    exits = {t for t in read if t & 1}
    got = prefilter_types(exits, [])
    assert read <= got  # the enter of each kept exit comes along
    flt = compile_filter("evt.type = read and proc.vmrss > 1", _registry())
    assert event_types_by_name("brk") <= filter_prefilter(flt)  # proc.vmrss reads brk's state
    plain = compile_filter("evt.type = read", _registry())
    assert not event_types_by_name("brk") & filter_prefilter(plain)
    assert event_types_by_name("brk") <= filter_prefilter(plain, "%proc.name %proc.vmsize")
    assert output_fields("%evt.time %proc.name (%(fd.name)) %thread.vmsize") == {
        "evt.time", "proc.name", "fd.name", "thread.vmsize"}


def _container(b, cid: str):
    import json

    return b.build("CONTAINER_JSON_E", {"json": json.dumps({"container": {
        "id": cid, "type": 0, "name": "web", "image": "nginx:1.25"}})}, tid=-1)


def test_container_after_a_dropped_event_stays_visible(tmp_path) -> None:
    """sysdig hides only the container events that lead the capture; one that follows a
    dropped event is not leading, so the prefilter must not hide it (nor renumber)."""
    from scap.testing import EventBuilder, write_capture

    b = EventBuilder(ts=1_700_000_000_000_000_000, tid=100)
    evs = [_container(b, "aaaaaaaaaaaa"), b.build("SYSCALL_READ_E", [3, 10]),
           _container(b, "bbbbbbbbbbbb"),
           b.build("SYSCALL_OPEN_E", ["/etc/passwd", 0, 0]),
           b.build("SYSCALL_OPEN_X", [3, "/etc/passwd", 0, 0, 0])]
    path = tmp_path / "c.scap"
    write_capture(path, evs)
    flt = compile_filter("evt.type = open", _registry())

    def seen(types):
        with Inspector.from_capture(path, event_types=types) as insp:
            return [(e.num, e.record.name) for e in insp], insp.stats.hidden_container

    full = seen(None)
    assert full == ([(2, "read"), (3, "container"), (4, "open"), (5, "open")], 1)
    from scap.schema import event_types_by_name

    # only the consumer's types are yielded; the container event is state for the others
    assert seen(flt.event_types) == ([(4, "open"), (5, "open")], 1)
    with_container = flt.event_types | event_types_by_name("container")
    assert seen(with_container) == ([(3, "container"), (4, "open"), (5, "open")], 1)


@pytest.mark.parametrize("maker", ["write", "clone_order_capture", "versions_capture",
                                   "net_capture", "probes_capture", "newer_syscalls_capture"])
def test_scenario_captures_same_fields(tmp_path, maker: str) -> None:
    """The synthetic state scenarios (fork, threads, exec, dup, sockets, containers, every
    event version ...) give the same fields for the events a consumer keeps, prefilter or
    not."""
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).parent / "parsers"))
    try:
        import _scenario
    finally:
        sys.path.pop(0)
    path = getattr(_scenario, maker)(tmp_path / "s.scap") or tmp_path / "s.scap"
    for cond in CONDITIONS:
        flt = compile_filter(cond, _registry())
        names = sorted(set(FIELDS) | fields_of(flt.ast))
        assert _run(str(path), flt, names, flt.event_types)[0] == \
            _run(str(path), flt, names, None)[0], cond


@pytest.mark.sysdig
@pytest.mark.parametrize("cond", [
    "evt.type in (open, openat, openat2) and evt.dir = <",
    "evt.type = close and evt.dir = >",
    "evt.type in (connect, sendto, sendmsg) and evt.dir = <",
])
def test_evt_num_as_sysdig(cond: str) -> None:
    """With the prefilter on, the numbers of the matching events are sysdig's."""
    import shutil
    import subprocess

    if shutil.which("sysdig") is None:
        pytest.skip("sysdig not installed")
    flt = compile_filter(cond, _registry())
    for path in TRACES:
        out = subprocess.run(["sysdig", "-r", path, "-p", "%evt.num", cond],
                             capture_output=True, text=True, check=True).stdout.split()
        with Inspector.from_capture(path, event_types=flt.event_types) as insp:
            ours = [str(e.num) for e in insp if flt.matches(e)]
        assert ours == out, path
