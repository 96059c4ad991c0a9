"""Internal events that change state: container descriptions and the
user/group added/deleted events of current drivers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sinsp.parsers._util import as_int, as_str
from sinsp.state.containers import ContainerInfo
from sinsp.state.threads import ThreadInfo
from sinsp.state.users import GroupInfo, UserInfo

if TYPE_CHECKING:
    from sinsp.event import Event
    from sinsp.inspector import Inspector
    from sinsp.verdict import Verdict


def parse_container(evt: Event, insp: Inspector, verdict: Verdict) -> None:
    """``container`` events: the JSON form (types 272/324) or the old 4-param one.

    Like sinsp, the event is then attributed to a stand-in thread (tid -1,
    comm ``container:<id>``, outside the thread table) that lives in that container, so the event's
    proc/user/container fields describe the container.
    """
    info: ContainerInfo | None
    # one lookup: an empty or missing json reads None, and the 4-param branch then finds no
    # id in a JSON-type event (no entry either way)
    text = evt.record_param("json")
    if text is not None:
        info = insp.containers.add_from_json(as_str(text)) if text else None
    else:
        cid = as_str(evt.param("id"))
        info = None
        if cid:
            info = insp.containers.add_from_event(
                cid, as_int(evt.param("type")), as_str(evt.param("name")),
                as_str(evt.param("image")),
            )
    if info is None:
        return
    ti = ThreadInfo(-1, -1, 0)
    ti.comm = f"container:{info.id}"
    ti.cwd = ""
    ti.fdlimit = -1
    ti.vtid = ti.vpid = -2
    ti.uid = ti.gid = ti.loginuid = 0
    ti.container_id = info.id
    ti.fdtable = insp.new_fd_table()
    # not put in the table: sysdig never resolves tid -1 (or a ptid/sid of -1)
    evt.thread = ti


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
