"""Soundness of ``engine.localfilter`` on random conditions: and/or/not trees (nested ``not``s
included) over checks the reduction keeps (event-local fields), folds (``evt.type``,
``evt.dir``, ``syscall.type``, ``evt.num = 0``, empty lists) or gives up on (state fields,
transformers, ``exists``, ``icontains``...), each compiled by ``sinsp.filter`` and run on a
generated open-family or close exit: whenever the condition matches, its tree is not FALSE.
This exercises the Kleene simplifications (which drop operands by polarity) far beyond the
shapes the rules files happen to have."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from localfilter_helpers import (
    FLAG_SETS,
    close_exit,
    evaluate,
    hotpath_verdict,
    needs_traces,
    open_exit,
    registry,
    syscall_world,
)

from engine.localfilter import rule_local_filter
from scap.testing import EventBuilder
from sinsp.filter import compile_filter, parse
from sinsp.localpred import Tri

pytestmark = needs_traces

_CHECKS = [
    # kept as Preds
    "fd.name startswith /etc", "fd.name = /etc/shadow", "fd.name != /dev/null",
    "fd.directory in (/etc, /var/log, /)", "fd.filename in (shadow, syslog, null)",
    "fd.typechar = f", "fd.typechar = d", "fd.type = directory", "fd.num >= 0", "fd.num = 9",
    "evt.rawres < 0", "evt.rawres in (0, 9)", "evt.is_open_read = true",
    "evt.is_open_write = false", "evt.is_open_exec = true", "fd.name glob '/etc/*'",
    "fd.name pmatch (/etc, /root)", "fd.nameraw contains ../", "fd.name contains ssh",
    "fd.name endswith .so", "fd.name > 5", "fd.filename != shadow", "fd.name == /dev/null",
    "fd.filename intersects (null, x)",
    # folded
    "evt.type = openat", "evt.type in (open, creat)", "evt.type != close", "evt.dir = <",
    "syscall.type = open", "evt.num = 0", "evt.num != 0", "fd.name in ()",
    "proc.name in ()",
    # unknown
    "proc.name = cat", "proc.name exists", "user.uid = 0", "proc.aname in ()",
    "tolower(fd.name) = /etc/shadow", "fd.name icontains ETC", "fd.name exists",
    "fd.name = val(fd.nameraw)", "evt.num > 5", "evt.arg.fd >= 0",
]  # fmt: skip


def _conditions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(_CHECKS)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda c: f"not ({c})", inner),
            st.lists(inner, min_size=2, max_size=4).map(lambda cs: " and ".join(
                f"({c})" for c in cs)),
            st.lists(inner, min_size=2, max_size=4).map(lambda cs: " or ".join(
                f"({c})" for c in cs)),
        ),
        max_leaves=10,
    )


_PATHS = ["/etc/shadow", "/dev/null", "/usr/lib/x.so", "/root/.ssh/id_rsa", "/var/log/syslog",
          "/etc", "/", "/tmp/../etc/shadow", "rel/x", "/f", "/etc/sudoers.d/x"]


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cond=_conditions(), etype=st.sampled_from([3, 59, 307, 327, 5]),
       path=st.sampled_from(_PATHS), flags=st.sampled_from(FLAG_SETS),
       fd=st.sampled_from([-2, 0, 9]), mode=st.sampled_from([0, 0o755]), who=st.integers(0, 5))
def test_random_conditions_are_sound(cond: str, etype: int, path: str, flags: int, fd: int,
                                     mode: int, who: int) -> None:
    insp, tids = syscall_world()
    tids = tids[:6]
    flt = compile_filter(parse(cond), registry())
    rule: Any = SimpleNamespace(filter=flt)
    tree = rule_local_filter(rule, etype)
    b = EventBuilder(ts=1_700_000_000_000_000_000)
    tid = tids[who % len(tids)]
    if etype == 5:
        insp.process(open_exit(b, 307, tid, 9, path, flags, mode))
        evt = insp.process(close_exit(b, tid, 9, res=fd if fd < 0 else 0))
    else:
        evt = insp.process(open_exit(b, etype, tid, fd, path, flags, mode))
    assert evt is not None
    try:
        if flt.matches(evt):
            assert evaluate(tree, evt) is not Tri.FALSE, (cond, tree)
            assert hotpath_verdict(tree, evt) is not Tri.FALSE, (cond, tree)
    finally:
        if etype != 5 and fd >= 0:
            insp.process(close_exit(b, tid, fd))
