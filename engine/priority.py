"""Rule priorities: the syslog severities, parsed case-insensitively as Falco does."""

from __future__ import annotations

import enum

__all__ = ["Priority"]


class Priority(enum.IntEnum):
    """Lower value = more severe (Falco's ``priority_type``)."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    @classmethod
    def parse(cls, text: str) -> Priority | None:
        """``"warning"``, ``"WARNING"``, ``"Info"``... -> Priority, or None if unknown."""
        t = text.strip().upper()
        if t == "INFO":
            return cls.INFORMATIONAL
        return cls.__members__.get(t)

    def text(self, short: bool = False) -> str:
        """Falco's ``format_priority``: "Warning", "Informational" (or "Info" when short)."""
        if short and self is Priority.INFORMATIONAL:
            return "Info"
        return self.name.capitalize()
