"""Falco-style logging: the one place that decides where diagnostics go.

Falco writes its own messages (not alerts) to stderr and/or syslog, each line prefixed on stderr
with a ctime-like timestamp (``Sat Nov 28 19:44:06 2026: ...``), filtered by ``log_level``. Alerts
never go through here; they go through the outputs. Keeping this tiny and global mirrors
``falco_logger``: every step of the app can log without threading a logger object through.
"""
from __future__ import annotations

import contextlib
import sys
import syslog
import threading
import time
from typing import TextIO

# Falco's log_level names, in syslog order (lower number = more severe).
LEVELS: dict[str, int] = {
    "emergency": 0,
    "alert": 1,
    "critical": 2,
    "error": 3,
    "warning": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}

_lock = threading.Lock()


class _Settings:
    """Where and from which level messages go (one instance, set by `configure`)."""

    __slots__ = ("level", "stderr", "stream", "syslog")

    def __init__(self) -> None:
        self.level = LEVELS["info"]
        self.stderr = True
        self.syslog = False
        self.stream: TextIO | None = None


_state = _Settings()


def configure(level: str = "info", to_stderr: bool = True, to_syslog: bool = False,
              stream: TextIO | None = None) -> None:
    """Apply ``log_level``/``log_stderr``/``log_syslog`` (called again on SIGHUP reload)."""
    _state.level = LEVELS.get(level.lower(), LEVELS["info"])
    _state.stderr = to_stderr
    _state.syslog = to_syslog
    _state.stream = stream


def enabled(level: str) -> bool:
    return LEVELS[level] <= _state.level


def log(level: str, msg: str) -> None:
    """Log ``msg`` at ``level`` (one of LEVELS). A trailing newline is added if missing."""
    if not enabled(level):
        return
    msg = msg.rstrip("\n")
    if _state.stderr:
        stream = _state.stream or sys.stderr
        line = f"{time.strftime('%a %b %d %H:%M:%S %Y')}: {msg}\n"
        with _lock:
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):
                pass
    if _state.syslog:
        with contextlib.suppress(OSError):
            syslog.syslog(LEVELS[level], msg)


def error(msg: str) -> None:
    log("error", msg)


def warning(msg: str) -> None:
    log("warning", msg)


def info(msg: str) -> None:
    log("info", msg)


def debug(msg: str) -> None:
    log("debug", msg)


def critical(msg: str) -> None:
    log("critical", msg)
