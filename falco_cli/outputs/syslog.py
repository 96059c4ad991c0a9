"""syslog_output: each alert as one syslog record at the rule's priority (facility user)."""
from __future__ import annotations

import syslog

from falco_cli.outputs.base import Output
from falco_cli.outputs.formatting import Message


class SyslogOutput(Output):
    name = "syslog"

    def __init__(self, ident: str = "falco", **kw: object):
        super().__init__(**kw)  # type: ignore[arg-type]
        self.ident = ident
        self._opened = False

    def write(self, msg: Message) -> None:
        if not self._opened:
            syslog.openlog(self.ident, syslog.LOG_PID, syslog.LOG_USER)
            self._opened = True
        syslog.syslog(syslog.LOG_USER | msg.priority, msg.text)

    def on_failure(self) -> None:
        pass
