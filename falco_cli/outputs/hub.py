"""OutputHub: format each alert once, hand it to every enabled output without blocking.

It also applies Falco's old ``outputs.rate``/``outputs.max_burst`` notification rate limit and the
``priority`` threshold is left to the engine (rules below it are not loaded/enabled). Counters
(alerts by priority and by rule, per-output sent/dropped/failed) feed ``/metrics`` and the
end-of-run summary.
"""
from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from typing import Any

from falco_cli import log
from falco_cli.config import Config
from falco_cli.outputs.base import Output, OutputError
from falco_cli.outputs.file import FileOutput
from falco_cli.outputs.formatting import Message, format_alert, format_internal, priority_num
from falco_cli.outputs.http import HttpOutput
from falco_cli.outputs.program import ProgramOutput
from falco_cli.outputs.stdout import StdoutOutput
from falco_cli.outputs.syslog import SyslogOutput
from falco_cli.token_bucket import TokenBucket


def falco_hostname() -> str:
    """``FALCO_HOSTNAME`` overrides the hostname in alerts, as in Falco."""
    return os.environ.get("FALCO_HOSTNAME") or socket.gethostname()


def build_outputs(cfg: Config, *, unbuffered: bool = False) -> list[Output]:
    """The outputs falco.yaml enables, in Falco's order (stdout, syslog, file, program, http)."""
    buffered = bool(cfg["buffered_outputs"]) and not unbuffered
    common: dict[str, Any] = {"buffered": buffered,
                              "queue_capacity": int(cfg["outputs_queue.capacity"])}
    outs: list[Output] = []
    if cfg["stdout_output.enabled"]:
        outs.append(StdoutOutput(**common))
    if cfg["syslog_output.enabled"]:
        outs.append(SyslogOutput(**common))
    if cfg["file_output.enabled"]:
        fo = FileOutput(cfg["file_output.filename"], keep_alive=cfg["file_output.keep_alive"],
                        **common)
        try:
            fo.check()
        except OSError as e:
            log.error(f"Failed to init output: could not open file {fo.filename}: {e.strerror}")
        else:
            outs.append(fo)
    if cfg["program_output.enabled"]:
        outs.append(ProgramOutput(cfg["program_output.program"],
                                  keep_alive=cfg["program_output.keep_alive"], **common))
    if cfg["http_output.enabled"]:
        try:
            outs.append(HttpOutput(
                cfg["http_output.url"], user_agent=cfg["http_output.user_agent"],
                insecure=cfg["http_output.insecure"], ca_cert=cfg["http_output.ca_cert"],
                ca_bundle=cfg["http_output.ca_bundle"], ca_path=cfg["http_output.ca_path"],
                mtls=cfg["http_output.mtls"], client_cert=cfg["http_output.client_cert"],
                client_key=cfg["http_output.client_key"], echo=cfg["http_output.echo"],
                compress_uploads=cfg["http_output.compress_uploads"],
                keep_alive=cfg["http_output.keep_alive"], json_output=cfg["json_output"],
                timeout_s=max(0.5, cfg["output_timeout"] / 1000.0), **common))
        except (OutputError, OSError, ValueError) as e:
            log.error(f"Failed to init output: {e}")
    return outs


class OutputHub:
    def __init__(self, outputs: list[Output], *, json_output: bool = False,
                 include_output: bool = True, include_tags: bool = True,
                 include_message: bool = False, include_output_fields: bool = True,
                 rate: float = 0,
                 max_burst: int = 1000, timeout_s: float = 2.0, hostname: str | None = None,
                 min_priority: int = 7):
        self.outputs = outputs
        self.json_output = json_output
        self.include_output = include_output
        self.include_tags = include_tags
        self.include_message = include_message
        self.include_output_fields = include_output_fields
        self.timeout_s = timeout_s
        self.hostname = hostname or falco_hostname()
        self.min_priority = min_priority
        self._limiter = TokenBucket(rate, max_burst) if rate > 0 else None
        self.rate_limited = 0
        self.by_priority: Counter[int] = Counter()
        self.by_rule: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._started = False

    @classmethod
    def from_config(cls, cfg: Config, *, unbuffered: bool = False) -> OutputHub:
        return cls(build_outputs(cfg, unbuffered=unbuffered), json_output=cfg["json_output"],
                   include_output=cfg["json_include_output_property"],
                   include_tags=cfg["json_include_tags_property"],
                   include_message=cfg["json_include_message_property"],
                   include_output_fields=cfg["json_include_output_fields_property"],
                   rate=float(cfg["outputs.rate"]),
                   max_burst=int(cfg["outputs.max_burst"]),
                   timeout_s=cfg["output_timeout"] / 1000.0,
                   min_priority=priority_num(cfg["priority"]))

    def start(self) -> None:
        for o in self.outputs:
            o.start()
        self._started = True

    def emit(self, alert: Any) -> bool:
        """Format and queue one alert. Returns False if rate-limited."""
        if self._limiter is not None and not self._limiter.claim():
            self.rate_limited += 1
            log.debug(f"Skipping rate-limited notification for rule {alert.rule}")
            return False
        msg = format_alert(alert, json_output=self.json_output, include_output=self.include_output,
                           include_tags=self.include_tags, include_message=self.include_message,
                           include_output_fields=self.include_output_fields)
        self.submit(msg)
        return True

    def emit_internal(self, ts_ns: int, priority: int, msg: str, rule: str,
                      fields: dict[str, Any]) -> None:
        """Internal notifications obey ``priority`` like rules do (Falco: the drop alert needs
        ``priority: debug``, the metrics snapshot ``info``)."""
        if priority > self.min_priority:
            return
        self.submit(format_internal(ts_ns, priority, msg, rule, fields,
                                    json_output=self.json_output, hostname=self.hostname))

    def submit(self, msg: Message) -> None:
        with self._lock:
            for o in self.outputs:
                o.submit(msg)

    def reopen(self) -> None:
        for o in self.outputs:
            o.request_reopen()

    def stop(self) -> None:
        """Drain all outputs in parallel, each bounded by output_timeout after its queue empties."""
        if not self._started:
            return
        threads = [threading.Thread(target=o.stop, args=(max(self.timeout_s, 0.5) +
                                                         0.001 * o.pending(),))
                   for o in self.outputs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._started = False
        for o in self.outputs:
            if o.failed or o.dropped:
                log.error(f"{o.name}: {o.failed + o.dropped} notification(s) not delivered "
                          f"({o.failed} failed after retries or discarded at exit, {o.dropped} "
                          f"dropped on a full queue); {o.sent} delivered")

    def stats(self) -> dict[str, dict[str, int]]:
        return {o.name: {"sent": o.sent, "dropped": o.dropped, "failed": o.failed,
                         "retries": o.retries, "queued": o.pending()} for o in self.outputs}
