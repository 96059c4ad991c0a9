"""sinsp: system state and the meaning of events (threads, fds, users,
containers), field extraction and filters, on top of scap records."""

from sinsp.event import Event
from sinsp.inspector import EventParseError, Inspector, InspectorStats
from sinsp.state.containers import ContainerInfo, ContainerTable
from sinsp.state.fds import FdInfo, FdTable, FdType
from sinsp.state.threads import ThreadInfo, ThreadTable
from sinsp.state.users import GroupInfo, UserInfo, UserTable
from sinsp.verdict import Verdict

__all__ = [
    "ContainerInfo",
    "ContainerTable",
    "Event",
    "EventParseError",
    "FdInfo",
    "FdTable",
    "FdType",
    "GroupInfo",
    "Inspector",
    "InspectorStats",
    "ThreadInfo",
    "ThreadTable",
    "UserInfo",
    "UserTable",
    "Verdict",
]
