"""Internal events that change state: container descriptions and the
user/group added/deleted events of current drivers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sinsp.parsers._util import as_int, as_str
from sinsp.state.users import GroupInfo, UserInfo

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict


def parse_container(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """``container`` events: the JSON form (types 272/324) or the old 4-param one."""
    if evt.has_param("json"):
        text = evt.param("json")
        if text:
            insp.containers.add_from_json(as_str(text))
        return
    cid = as_str(evt.param("id"))
    if cid:
        insp.containers.add_from_event(
            cid, as_int(evt.param("type")), as_str(evt.param("name")), as_str(evt.param("image"))
        )


def parse_user_added(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    if as_str(evt.param("container_id")):
        return  # per-container user tables are not modelled
    insp.users.add_user(
        UserInfo(
            uid=as_int(evt.param("uid")),
            gid=as_int(evt.param("gid")),
            name=as_str(evt.param("name")),
            homedir=as_str(evt.param("home")),
            shell=as_str(evt.param("shell")),
        )
    )


def parse_user_deleted(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    if not as_str(evt.param("container_id")):
        insp.users.remove_user(as_int(evt.param("uid")))


def parse_group_added(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    if not as_str(evt.param("container_id")):
        insp.users.add_group(GroupInfo(as_int(evt.param("gid")), as_str(evt.param("name"))))


def parse_group_deleted(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    if not as_str(evt.param("container_id")):
        insp.users.remove_group(as_int(evt.param("gid")))


HANDLERS = {
    ("container", "E"): parse_container,
    ("useradded", "E"): parse_user_added,
    ("userdeleted", "E"): parse_user_deleted,
    ("groupadded", "E"): parse_group_added,
    ("groupdeleted", "E"): parse_group_deleted,
}
