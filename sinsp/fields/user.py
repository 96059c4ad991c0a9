"""``user.*`` and ``group.*`` fields: the thread's uid/gid/loginuid resolved
through the user table. An unknown id gives N/A for every field but the id."""

from __future__ import annotations

from typing import Any

from sinsp.fields.registry import REGISTRIES, Extractor, FieldClassBuilder, FieldType

T = FieldType
user = FieldClassBuilder("user", "Information about the user executing the specific event.")
group = FieldClassBuilder("group", "Information about the user group.")


def _user_attr(attr: str, *, login: bool = False) -> Extractor:
    def extract(evt: Any, arg: Any) -> Any:
        t = evt.thread
        insp = evt.inspector
        if t is None or insp is None:
            return None
        info = insp.users.user(t.loginuid if login else t.uid)
        return None if info is None else getattr(info, attr)

    return extract


def _to_int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


@user.field("user.uid", T.UINT32, "user ID.")
def _uid(evt: Any, arg: Any) -> int | None:
    t = evt.thread
    return None if t is None else t.uid & 0xFFFFFFFF


user.field("user.name", T.CHARBUF, "user name.")(_user_attr("name"))
user.field("user.homedir", T.CHARBUF, "home directory of the user.")(_user_attr("homedir"))
user.field("user.shell", T.CHARBUF, "user's shell.")(_user_attr("shell"))


@user.field("user.loginuid", T.INT32, "audit user id (auid).")
def _loginuid(evt: Any, arg: Any) -> int | None:
    t = evt.thread
    return None if t is None else _to_int32(t.loginuid)


user.field("user.loginname", T.CHARBUF, "audit user name (auid).")(
    _user_attr("name", login=True)
)


@group.field("group.gid", T.UINT64, "group ID.")
def _gid(evt: Any, arg: Any) -> int | None:
    t = evt.thread
    return None if t is None else t.gid & 0xFFFFFFFF


@group.field("group.name", T.CHARBUF, "group name.")
def _group_name(evt: Any, arg: Any) -> str | None:
    t = evt.thread
    insp = evt.inspector
    if t is None or insp is None:
        return None
    info = insp.users.group(t.gid)
    return None if info is None else info.name


USER_CLASS = user.build()
GROUP_CLASS = group.build()
REGISTRIES["syscall"].register(USER_CLASS)
REGISTRIES["syscall"].register(GROUP_CLASS)
