"""Users and groups, from the capture's user-list block (or /etc on live).

sinsp resolves ``user.name`` and friends by uid through this table; a uid the
table does not know resolves to N/A for everything except ``user.uid``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class UserInfo:
    uid: int
    gid: int
    name: str
    homedir: str
    shell: str
    container_id: str = ""


@dataclass(frozen=True, slots=True)
class GroupInfo:
    gid: int
    name: str
    container_id: str = ""


class UserTable:
    """uid → UserInfo and gid → GroupInfo (host scope; per-container later)."""

    __slots__ = ("groups", "users")

    def __init__(self) -> None:
        self.users: dict[int, UserInfo] = {}
        self.groups: dict[int, GroupInfo] = {}

    def load(self, users: Iterable[Any], groups: Iterable[Any]) -> None:
        """Seed from ``scap.UserInfo``/``scap.GroupInfo``-shaped objects."""
        for u in users:
            info = UserInfo(
                uid=int(u.uid),
                gid=int(getattr(u, "gid", 0)),
                name=str(getattr(u, "name", "")),
                homedir=str(getattr(u, "homedir", "")),
                shell=str(getattr(u, "shell", "")),
            )
            self.users[info.uid] = info
        for g in groups:
            ginfo = GroupInfo(gid=int(g.gid), name=str(getattr(g, "name", "")))
            self.groups[ginfo.gid] = ginfo

    def add_user(self, info: UserInfo) -> None:
        self.users[info.uid] = info

    def remove_user(self, uid: int) -> None:
        self.users.pop(uid, None)

    def add_group(self, info: GroupInfo) -> None:
        self.groups[info.gid] = info

    def remove_group(self, gid: int) -> None:
        self.groups.pop(gid, None)

    def user(self, uid: int) -> UserInfo | None:
        return self.users.get(uid)

    def group(self, gid: int) -> GroupInfo | None:
        return self.groups.get(gid)
