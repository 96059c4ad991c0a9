"""The ``k8s_audit`` event source in the pyfalco command: audit file replay and the webhook.

Falco gets Kubernetes audit events from its k8saudit plugin (with the json plugin for
``jevt.*``); pyfalco has both built in and reads the same configuration:

* ``-e audit.json`` (or ``engine.replay.capture_file``): a file whose first non-blank byte is
  ``{`` or ``[`` is an audit log (JSON lines, one JSON document or an EventList) rather than a
  capture; a directory is read file by file;
* ``plugins:`` with an entry named ``k8saudit`` (loaded when ``load_plugins`` is empty or names
  it): ``open_params`` is a file or directory path, or ``http://[host]:PORT/PATH`` /
  ``https://...`` to serve the webhook. ``init_config`` keys ``sslCertificate``,
  ``maxEventSize`` and ``webhookMaxBatchSize`` mean what they mean for the plugin; without
  ``sslCertificate`` an ``https`` webhook uses ``webserver.ssl_certificate`` (a PEM with
  certificate and key, default ``/etc/falco/falco.pem``), and ``webserver.threadiness``
  (when > 0) sizes the webhook's worker pool. Falco 0.31's ``webserver.k8s_audit_endpoint``
  (the webhook inside the health webserver) is not supported: use the plugin form.

With the syscall source disabled (``--enable-source k8s_audit``, ``engine.kind: nodriver``)
the k8s source is the only loop. Otherwise both run, as in Falco: the k8s loop in a thread of
its own next to the syscall loop, until the syscall loop ends (its end, ``-M`` or a signal).
Either way events go through the same rule engine (``source: k8s_audit`` rules), outputs,
signals and summary as syscall events.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from falco_cli import log

if TYPE_CHECKING:
    from falco_cli.app import RunResult, State

__all__ = ["K8sOpen", "from_open_params", "is_audit_file", "process_if_selected", "select"]

SOURCE = "k8s_audit"
DEFAULT_SSL_CERTIFICATE = "/etc/falco/falco.pem"


@dataclass(frozen=True, slots=True)
class K8sOpen:
    """How to open the source: replay ``path``, or serve the webhook."""

    kind: str  # "file" | "webhook"
    path: str = ""
    address: str = ""
    port: int = 0
    endpoint: str = "/k8s-audit"
    ssl_certificate: str | None = None
    max_event_size: int = 262144
    max_batch: int = 12 * 1024 * 1024
    workers: int = 16
    alongside: bool = False  # the syscall source runs too (the k8s loop gets a thread)


def is_audit_file(path: str) -> bool:
    """Whether ``path`` holds JSON (an audit log) rather than a scap capture; a directory
    when its files do (judged by the first one)."""
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if os.path.isfile(os.path.join(path, f)))
        return bool(files) and is_audit_file(os.path.join(path, files[0]))
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return head[:1] in (b"{", b"[")


def _init_config(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            val = json.loads(raw)
        except ValueError:
            raise ValueError(f"k8saudit init_config is not JSON: {raw!r}") from None
        return val if isinstance(val, dict) else {}
    return {}


def from_open_params(params: str, init_config: Any = None,
                     default_certificate: str = DEFAULT_SSL_CERTIFICATE) -> K8sOpen:
    """The plugin's ``open_params``: a path, or an ``http(s)://host:port/path`` to listen on.

    Raises ``ValueError`` with a message for the user.
    """
    cfg = _init_config(init_config)
    max_event_size = int(cfg.get("maxEventSize", 262144))
    max_batch = int(cfg.get("webhookMaxBatchSize", 12 * 1024 * 1024))
    text = str(params).strip()
    u = urlsplit(text)
    if u.scheme in ("http", "https"):
        try:
            port = u.port
        except ValueError:
            raise ValueError(f"invalid port in open_params {text!r}") from None
        if port is None:
            raise ValueError(f"open_params {text!r} needs a port (http://:9765/k8s-audit)")
        ssl_cert = None
        if u.scheme == "https":
            ssl_cert = str(cfg.get("sslCertificate") or default_certificate)
        # like Go's ListenAndServe, an empty host listens on every interface
        return K8sOpen("webhook", address=u.hostname or "0.0.0.0", port=port,
                       endpoint=u.path or "/", ssl_certificate=ssl_cert,
                       max_event_size=max_event_size, max_batch=max_batch)
    if u.scheme and len(u.scheme) > 1:
        raise ValueError(f'scheme "{u.scheme}" is not supported')
    if not text:
        raise ValueError("k8saudit open_params is empty")
    return K8sOpen("file", path=text, max_event_size=max_event_size, max_batch=max_batch)


def _plugin_entry(s: State) -> dict[str, Any] | None:
    plugins = s.cfg["plugins"] or []
    wanted = [str(p) for p in (s.cfg["load_plugins"] or [])]
    for p in plugins:
        if isinstance(p, dict) and str(p.get("name", "")).startswith("k8saudit"):
            if wanted and p.get("name") not in wanted:
                continue
            return p
    return None


def _syscall_disabled(s: State) -> bool:
    return (_sources_exclude_syscall(s) or s.cfg["engine.kind"] == "nodriver"
            or s.options.nodriver)


def _sources_exclude_syscall(s: State) -> bool:
    """``--disable-source syscall`` or ``--enable-source`` without ``syscall``."""
    o = s.options
    return "syscall" in o.disable_sources or (bool(o.enable_sources)
                                              and "syscall" not in o.enable_sources)


def _trace(s: State) -> str | None:
    """The file to replay: ``-e`` or ``engine.replay.capture_file`` with ``engine.kind: replay``."""
    trace = s.options.trace_filename
    if not trace and s.cfg["engine.kind"] == "replay":
        trace = s.cfg["engine.replay.capture_file"] or None
    return trace


def select(s: State) -> K8sOpen | str | None:
    """What to open for this run: a :class:`K8sOpen`, an error message, or None (not k8s).

    The returned spec has ``alongside=True`` when the syscall source runs too."""
    trace = _trace(s)
    if trace:
        if os.path.exists(trace) and is_audit_file(trace):
            return K8sOpen("file", path=trace)
        return None
    if "k8s_audit" in s.options.disable_sources:
        return None
    entry = _plugin_entry(s)
    if entry is None:
        return None
    try:
        spec = from_open_params(entry.get("open_params", ""), entry.get("init_config"),
                                s.cfg["webserver.ssl_certificate"] or DEFAULT_SSL_CERTIFICATE)
    except ValueError as e:
        return f"Could not open k8saudit source: {e}"
    threads = int(s.cfg["webserver.threadiness"] or 0)
    if spec.kind == "webhook" and threads > 0:
        spec = dataclasses.replace(spec, workers=threads)
    if not _syscall_disabled(s):
        spec = dataclasses.replace(spec, alongside=True)
    return spec


# -- the event loop -----------------------------------------------------------------------------


def _file_events(s: State, spec: K8sOpen, errors: list[str]) -> Iterator[Any]:
    from sinsp.k8saudit import AuditFileReader, AuditFormatError

    def on_error(err: AuditFormatError) -> None:
        errors.append(str(err))
        log.error(f"Skipping k8s audit input: {err}")

    log.info(f"Reading k8s audit events from file: {spec.path}")
    yield from AuditFileReader(spec.path, on_error=on_error, max_event_size=spec.max_event_size)


def _webhook_events(s: State, spec: K8sOpen, hook_box: list[Any],
                    stop: threading.Event | None = None) -> Iterator[Any]:
    from falco_cli.k8s_webhook import EventQueue, K8sAuditWebhook

    q = EventQueue()
    hook = K8sAuditWebhook(q, spec.address, spec.port, spec.endpoint,
                           ssl_certificate=spec.ssl_certificate, max_body=spec.max_batch,
                           max_event_size=spec.max_event_size, workers=spec.workers)
    hook_box.append(hook)
    hook.start()
    log.info(f"Opening 'k8s_audit' source: webhook listening on {hook.url} "
             f"({spec.workers} workers)")
    num = 0
    deadline = (time.monotonic() + s.options.duration_s) if s.options.duration_s else None
    while not s.signals.terminate.is_set() and not (stop is not None and stop.is_set()):
        if deadline is not None and time.monotonic() >= deadline:
            return
        evt = q.get(timeout=0.2)
        if evt is None:
            if s.signals.pending or stop is not None:
                yield None  # let the loop act on signals (or its stop flag) while idle
            continue
        num += 1
        evt.num = num
        yield evt


def run(s: State, spec: K8sOpen, stop: threading.Event | None = None) -> RunResult:
    """Feed k8s audit events through the engine and outputs until done or told to stop.

    ``stop`` (the alongside mode): set by the syscall side when it is done; signals are then
    acted on by the syscall loop, this one only reads ``s.engine`` afresh for every event.
    """
    from falco_cli import app

    s.source_kind = "replay" if spec.kind == "file" else "live"
    errors: list[str] = []
    hook_box: list[Any] = []
    events = (_file_events(s, spec, errors) if spec.kind == "file"
              else _webhook_events(s, spec, hook_box, stop))
    res = app.RunResult.ok()
    wall_start = time.monotonic()
    try:
        for evt in events:
            if stop is not None:
                if stop.is_set():
                    break
            elif s.signals.pending and not app._handle_signals(s):
                break
            if evt is None:
                continue
            matches = s.engine.process(evt, SOURCE)
            if stop is None:
                s.n_evts += 1
                if matches:
                    app._alert(s, evt, matches)
            else:
                with s.lock:  # the syscall loop counts too
                    s.n_evts += 1
                    if matches:
                        app._alert(s, evt, matches)
    except KeyboardInterrupt:
        log.info("SIGINT received, exiting...")
    except OSError as e:
        res = app.RunResult.fatal(f"Could not open k8saudit source: {e}")
    except Exception as e:
        res = app.RunResult.fatal(f"{type(e).__name__}: {e}")
    finally:
        for hook in hook_box:
            hook.stop()
    if res.success and spec.kind == "file" and errors and s.n_evts == 0:
        res = app.RunResult.fatal(errors[0])
    if s.options.verbose:
        el = time.monotonic() - wall_start
        log.info(f"k8s_audit: {s.n_evts} events in {el:.3f}s, {len(errors)} input errors")
    return res


_ALONGSIDE: set[int] = set()  # states whose syscall loop is running with a k8s thread


def process_if_selected(s: State) -> RunResult | None:
    """The hook ``app.process_events`` calls first: run the k8s source if this run uses it.

    None means "not k8s, go on with the syscall source". In the alongside mode this runs the
    whole of ``process_events`` for the syscall source itself (re-entering it with the hook
    off), with the k8s loop in a thread, and returns the syscall result unless the k8s side
    failed.
    """
    if id(s) in _ALONGSIDE:
        return None
    spec = select(s)
    from falco_cli import app

    if spec is None:
        if _sources_exclude_syscall(s) and not _trace(s):
            return app.RunResult.fatal("Must enable at least one event source (the syscall "
                                       "source is disabled and no k8saudit plugin is "
                                       "configured)")
        return None

    if isinstance(spec, str):
        return app.RunResult.fatal(spec)
    if not spec.alongside:
        return run(s, spec)
    stop = threading.Event()
    box: list[RunResult] = []
    t = threading.Thread(target=lambda: box.append(run(s, spec, stop)), name="k8s_audit",
                         daemon=True)
    t.start()
    _ALONGSIDE.add(id(s))
    s.concurrent_sources = True
    try:
        res = app.process_events(s)
    finally:
        _ALONGSIDE.discard(id(s))
        s.concurrent_sources = False
        stop.set()
        t.join(10)
    if res.success and box and not box[0].success:
        return box[0]
    return res
