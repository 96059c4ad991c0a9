"""User and group tables and the user./group. fields through an Inspector."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "parsers"))
from _feed import builder, proc, replay

import sinsp.fields.user  # noqa: F401
from scap.metadata import GroupInfo, UserInfo
from sinsp.fields.registry import REGISTRIES

REG = REGISTRIES["syscall"]


def test_user_fields_resolve_through_the_user_list() -> None:
    b = builder()
    recs = [b.build("SYSCALL_READ_E", {"fd": 0, "size": 1}, tid=t) for t in (100, 101)]
    fields = ["user.uid", "user.name", "user.homedir", "user.shell", "user.loginuid",
              "user.loginname", "group.gid", "group.name"]
    _, rows = replay(
        recs,
        [proc(100, uid=1000, gid=50, loginuid=1000), proc(101, uid=4242, gid=4242,
                                                           loginuid=0xFFFFFFFF)],
        probe=lambda e: [REG.extract(e, f) for f in fields],
        users=[UserInfo(1000, 50, "alice", "/home/alice", "/bin/zsh")],
        groups=[GroupInfo(50, "staff")],
    )
    assert rows == [
        [1000, "alice", "/home/alice", "/bin/zsh", 1000, "alice", 50, "staff"],
        [4242, None, None, None, -1, None, 4242, None],
    ]
