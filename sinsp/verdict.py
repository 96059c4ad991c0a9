"""Deferred state changes (libsinsp ``sinsp_parser_verdict``).

A parser that must forget something (a thread on ``procexit``, an fd on
``close``) does not do it at once: the event being parsed must still resolve
``proc.name`` / ``fd.name`` while the engine evaluates and formats it. The
parser records the removal in a ``Verdict`` and the inspector applies it when
the consumer asks for the next event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinsp.state.fds import FdTable
    from sinsp.state.threads import ThreadTable


class Verdict:
    """Removals to apply after the current event has been consumed."""

    __slots__ = ("remove_fds", "remove_tids")

    def __init__(self) -> None:
        self.remove_tids: list[int] = []
        self.remove_fds: list[tuple[FdTable, int]] = []

    def __bool__(self) -> bool:
        return bool(self.remove_tids or self.remove_fds)

    def __repr__(self) -> str:
        fds = [fd for _t, fd in self.remove_fds]
        return f"Verdict(remove_tids={self.remove_tids}, remove_fds={fds})"

    def remove_thread(self, tid: int) -> None:
        self.remove_tids.append(tid)

    def remove_fd(self, table: FdTable, fd: int) -> None:
        self.remove_fds.append((table, fd))

    def apply(self, threads: ThreadTable) -> None:
        """Carry out the recorded removals, in the order they were recorded."""
        for table, fd in self.remove_fds:
            table.remove(fd)
        for tid in self.remove_tids:
            threads.remove(tid)
        self.remove_fds.clear()
        self.remove_tids.clear()
