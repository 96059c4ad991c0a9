"""The pyfalco application: a list of small steps over one ``State`` (Falco's ``app/actions``).

Each step reads and fills ``State`` and returns a ``RunResult``: ``ok`` (go on), ``exit``
(stop, success: ``--version``, ``-L``, ``-V`` ...) or ``fatal`` (stop with an error message,
exit status 1).
``main.py`` only turns the command line into ``Options``; everything that does work is here, so
each step can be tested alone.

Reload (SIGHUP) differs from Falco on purpose: Falco tears everything down and restarts, which for
a live capture loses the events in between and for a replay starts the file over. pyfalco builds a
new engine from the re-read config and rules *while the capture keeps going*; if that fails the old
engine keeps running and the error is logged. Outputs are rebuilt only when their configuration
changed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import platform
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from falco_cli import __version__, log
from falco_cli import config as config_mod
from falco_cli.config import Config, ConfigError
from falco_cli.drops import DropCounters, DropManager
from falco_cli.outputs import OutputHub
from falco_cli.outputs.formatting import PRIORITY_NAMES, priority_num
from falco_cli.signals import SignalFlags

PPME_DROP_E = 148
PPME_DROP_X = 149
DROP_TYPES = frozenset({PPME_DROP_E, PPME_DROP_X})
ENGINE_VERSION = "0.31.0"
DRIVER_API_VERSION = "8.0.0"
DRIVER_SCHEMA_VERSION = "2.0.0"


# ---------------------------------------------------------------------------------------------
# Results, options, state
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RunResult:
    success: bool = True
    proceed: bool = True
    errstr: str = ""

    @staticmethod
    def ok() -> RunResult:
        return RunResult()

    @staticmethod
    def exit() -> RunResult:
        return RunResult(True, False)

    @staticmethod
    def fatal(msg: str) -> RunResult:
        return RunResult(False, False, msg)


@dataclass(slots=True)
class Options:
    """The command line, already checked for conflicts (see ``main.py``)."""
    conf_filename: str | None = None
    rules_filenames: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    trace_filename: str | None = None
    all_events: bool = False
    disabled_rule_substrings: list[str] = field(default_factory=list)
    disabled_rule_tags: list[str] = field(default_factory=list)
    enabled_rule_tags: list[str] = field(default_factory=list)
    describe_all_rules: bool = False
    describe_rule: str | None = None
    list_fields: bool = False
    list_source: str = ""
    names_only: bool = False
    markdown: bool = False
    print_additional: str = ""
    duration_s: float = 0
    unbuffered: bool = False
    validate_filenames: list[str] = field(default_factory=list)
    verbose: bool = False
    print_version: bool = False
    print_support: bool = False
    dry_run: bool = False
    pidfile: str | None = None
    disable_sources: list[str] = field(default_factory=list)
    enable_sources: list[str] = field(default_factory=list)
    modern_bpf: bool = False
    nodriver: bool = False
    explain_rule: str | None = None      # pyfalco extension: --explain RULE
    explain_event: int | None = None     # --explain-event N (evt.num)
    cmdline: str = ""


@dataclass(slots=True)
class State:
    options: Options
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    config: Config | None = None
    engine: Any = None
    rules_files: list[str] = field(default_factory=list)
    hub: OutputHub | None = None
    webserver: Any = None
    signals: SignalFlags = field(default_factory=SignalFlags)
    drops: DropManager | None = None
    source_kind: str = ""        # "replay" | "live"
    source_failed: bool = False  # the event source could not open: no summary (as Falco)
    #: syscalls the live driver records as the generic event (each new engine is told: reload)
    generic_syscalls: frozenset[str] = frozenset()
    capture_file: str | None = None
    live_source: Any = None
    extra_format: Any = None     # -p: engine.OutputFormat appended to every rule output
    extra_rule_formats: dict[str, Any] = field(default_factory=dict)  # -pc/-pk per rule
    n_evts: int = 0
    n_drops: int = 0
    by_priority: Counter[int] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    rule_order: dict[str, tuple[int, int]] = field(default_factory=dict)
    start_ns: int = field(default_factory=time.time_ns)
    reloads: int = 0
    reload_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # True while another source's loop (k8s_audit) runs in a thread next to the syscall loop:
    # both then update the counters and emit alerts under ``lock``.
    concurrent_sources: bool = False
    # replay: the event types the capture was opened to keep (the prefilter, fixed for the
    # whole run: a reload cannot widen it); None = every event reaches Python
    prefilter: frozenset[int] | None = None

    @property
    def cfg(self) -> Config:
        assert self.config is not None
        return self.config


# ---------------------------------------------------------------------------------------------
# Paths of bundled files
# ---------------------------------------------------------------------------------------------
_PKG = os.path.dirname(os.path.abspath(__file__))


def default_rules_path() -> str | None:
    """pyfalco's default rules: ``rules/falco_rules.yaml`` of the source tree (editable install)
    or the copy shipped in the package."""
    for p in (os.path.join(os.path.dirname(_PKG), "rules", "falco_rules.yaml"),
              os.path.join(_PKG, "rules", "falco_rules.yaml")):
        if os.path.exists(p):
            return p
    return None


def bundled_capture_path() -> str | None:
    p = os.path.join(_PKG, "data", "demo.scap")
    return p if os.path.exists(p) else None


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------
def load_config(s: State) -> RunResult:
    path = s.options.conf_filename
    if path is None:
        path = config_mod.default_config_path()
    try:
        s.config = config_mod.load(path, s.options.overrides)
    except ConfigError as e:
        return RunResult.fatal(str(e))
    cfg = s.cfg
    log.configure(cfg["log_level"], cfg["log_stderr"], cfg["log_syslog"])
    if s.options.verbose and not log.enabled("debug"):
        log.configure("debug", cfg["log_stderr"], cfg["log_syslog"])
    log.info(f"Falco version: {__version__} ({platform.machine()})")
    if path:
        log.info(f"Falco initialized with configuration file: {path}")
    else:
        log.info("Falco initialized with the embedded default configuration")
    for w in cfg.warnings:
        log.warning(w)
    return RunResult.ok()


def versions_info() -> dict[str, str]:
    return {"falco_version": __version__, "libs_version": __version__,
            "plugin_api_version": "0.0.0", "driver_api_version": DRIVER_API_VERSION,
            "driver_schema_version": DRIVER_SCHEMA_VERSION,
            "default_driver_version": __version__, "engine_version": ENGINE_VERSION,
            "engine_version_semver": ENGINE_VERSION}


def print_version(s: State) -> RunResult:
    if not s.options.print_version:
        return RunResult.ok()
    info = versions_info()
    out = s.stdout
    if s.cfg["json_output"]:
        out.write(json.dumps(info, separators=(",", ":"), sort_keys=True) + "\n")
    else:
        out.write(f"Falco version: {info['falco_version']}\n")
        out.write(f"Libs version:  {info['libs_version']}\n")
        out.write(f"Plugin API:    {info['plugin_api_version']}\n")
        out.write(f"Engine:        {info['engine_version']}\n")
        out.write("Driver:\n")
        out.write(f"  API version:    {info['driver_api_version']}\n")
        out.write(f"  Schema version: {info['driver_schema_version']}\n")
        out.write(f"  Default driver: {info['default_driver_version']}\n")
    return RunResult.exit()


def list_fields(s: State) -> RunResult:
    if not s.options.list_fields:
        return RunResult.ok()
    try:
        from falco_cli import fieldlist
    except ImportError as e:  # sinsp not importable: a broken install
        return RunResult.fatal(f"cannot list fields: {e}")
    src = s.options.list_source
    try:
        text = fieldlist.render(src or None, names_only=s.options.names_only,
                                markdown=s.options.markdown, verbose=s.options.verbose)
    except KeyError:
        return RunResult.fatal(f"Value for --list must be a valid source type: {src}")
    s.stdout.write(text)
    return RunResult.exit()


def _make_engine(s: State) -> Any:
    from engine import RuleEngine
    from falco_cli.outputs.hub import falco_hostname
    eng = RuleEngine(hostname=falco_hostname())
    cfg = s.cfg
    min_prio = cfg["priority"]
    for name in ("set_min_priority",):
        fn = getattr(eng, name, None)
        if fn is not None:
            fn(min_prio)
    if hasattr(eng, "rule_matching"):
        with contextlib.suppress(AttributeError):
            eng.rule_matching = cfg["rule_matching"]
    if hasattr(eng, "set_time_format_iso_8601"):
        eng.set_time_format_iso_8601(cfg["time_format_iso_8601"])
    return eng


def _expand_rules_paths(paths: list[str]) -> list[str]:
    """Directories load their ``*.yaml``/``*.yml`` files in name order, as Falco does."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                full = os.path.join(p, name)
                if os.path.isfile(full) and name.endswith((".yaml", ".yml")):
                    out.append(full)
        else:
            out.append(p)
    return out


def validate_rules_files(s: State) -> RunResult:
    files = s.options.validate_filenames
    if not files:
        return RunResult.ok()
    for f in files:
        if not os.path.isfile(f):
            return RunResult.fatal(f"Could not open file {f} for reading")
    log.info("Validating rules file(s):")
    for f in files:
        log.info(f"   {f}")
    eng = _make_engine(s)
    result = eng.load_files(list(files))
    per_file = getattr(result, "files", None) or []
    summary_parts = []
    for fr in per_file:
        if not fr.successful or not fr.warnings:
            summary_parts.append(fr.verbose(result.contents))
        else:
            summary_parts.append(f"{fr.name}: Ok, with warnings")
            log.warning(fr.verbose(result.contents))
    summary = "\n".join(p.rstrip("\n") for p in summary_parts)
    if s.cfg["json_output"]:
        s.stdout.write(json.dumps(result.as_json(), separators=(",", ":")) + "\n")
    else:
        s.stdout.write(summary + "\n")
    s.stdout.flush()
    if not result.successful:
        return RunResult.fatal(summary)
    return RunResult.exit()


def _rules_paths(s: State) -> list[str]:
    if s.options.rules_filenames:
        return list(s.options.rules_filenames)
    paths = s.cfg.rules_files
    if paths:
        return paths
    d = default_rules_path()
    return [d] if d else []


def _load_rules(s: State, eng: Any) -> tuple[bool, str, list[str]]:
    paths = _rules_paths(s)
    if not paths:
        return False, ("You must specify at least one rules file/directory via -r or a "
                       "rules_file entry in falco.yaml"), []
    files = []
    for p in paths:
        if not os.path.exists(p):
            return False, f"Could not open file {p} for reading", []
        files.extend(_expand_rules_paths([p]))
    for f in files:
        log.info(f"Loading rules from file {f}")
    result = eng.load_files(files)
    if not result.successful:
        return False, result.as_string(True), files
    if result.has_warnings():
        log.warning(result.as_string(True))
    _apply_rule_selection(s, eng)
    return True, "", files


def _apply_rule_selection(s: State, eng: Any) -> None:
    o = s.options
    for sel in s.cfg.rules_selection:
        verb = "Enabling" if sel.enable else "Disabling"
        if sel.rule is not None:
            log.info(f"{verb} rules with name: {sel.rule}")
            eng.enable(pattern=sel.rule, enabled=sel.enable)
        if sel.tag is not None:
            log.info(f"{verb} rules with tag: {sel.tag}")
            eng.enable(tags=[sel.tag], enabled=sel.enable)
    for sub in o.disabled_rule_substrings:
        log.info(f"Disabling rules with substring: {sub}")
        eng.enable(pattern=f"*{sub}*", enabled=False)
    if o.disabled_rule_tags:
        log.info(f"Disabling rules with tags: {', '.join(o.disabled_rule_tags)}")
        eng.enable(tags=list(o.disabled_rule_tags), enabled=False)
    if o.enabled_rule_tags:
        log.info(f"Enabling rules with tags: {', '.join(o.enabled_rule_tags)}")
        eng.enable(enabled=False)
        eng.enable(tags=list(o.enabled_rule_tags), enabled=True)


def load_rules_files(s: State) -> RunResult:
    try:
        eng = _make_engine(s)
    except ImportError as e:
        return RunResult.fatal(f"rule engine unavailable: {e}")
    ok, err, files = _load_rules(s, eng)
    if not ok:
        return RunResult.fatal(err)
    s.engine = eng
    s.rules_files = files
    try:
        s.extra_format = _extra_format(s)
    except Exception as e:
        return RunResult.fatal(f"Invalid -p output format '{s.options.print_additional}': {e}")
    return RunResult.ok()


# Falco's -pc / -pk additions to every syscall rule output (app/options.cpp,
# init_falco_engine's configure_output_format).
PRINT_CONTAINER = "container=%container.name (id=%container.id)"
PRINT_K8S = "k8s.ns=%k8s.ns.name k8s.pod=%k8s.pod.name container=%container.id"


def _extra_format(s: State) -> Any:
    pa = s.options.print_additional
    if not pa:
        return None
    fmt = {"c": PRINT_CONTAINER, "container": PRINT_CONTAINER, "k": PRINT_K8S,
           "kubernetes": PRINT_K8S}.get(pa, pa)
    from engine import OutputFormat
    # the k8s.* fields (sinsp/fields/k8s.py) come from the container runtime's pod labels
    return OutputFormat(fmt, s.engine.registries["syscall"])


def describe_rules(s: State) -> RunResult:
    o = s.options
    if not (o.describe_all_rules or o.describe_rule):
        return RunResult.ok()
    from falco_cli import describe
    try:
        text = describe.describe(s.engine, o.describe_rule, json_output=s.cfg["json_output"])
    except KeyError as e:
        return RunResult.fatal(str(e.args[0]))
    s.stdout.write(text)
    return RunResult.exit()


def explain_rule(s: State) -> RunResult:
    """``--explain RULE -e FILE`` (pyfalco extension): the engine's ``explain`` on every event
    the rule matches, or on event ``--explain-event N`` whatever the verdict; then exit."""
    o = s.options
    if not o.explain_rule:
        return RunResult.ok()
    from falco_cli import explain
    try:
        n = explain.run(s.engine, o.explain_rule, o.trace_filename or "", s.stdout,
                        event_num=o.explain_event, json_output=s.cfg["json_output"])
    except explain.ExplainError as e:
        return RunResult.fatal(str(e))
    log.info(f"--explain: {n} event(s) explained")
    return RunResult.exit()


def print_support(s: State) -> RunResult:
    if not s.options.print_support:
        return RunResult.ok()
    u = platform.uname()

    def read(p: str | None) -> str:
        if not p:
            return ""
        try:
            with open(p, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    support = {
        "version": __version__,
        "engine_info": versions_info(),
        "system_info": {"sysname": u.system, "nodename": u.node, "release": u.release,
                        "version": u.version, "machine": u.machine},
        "cmdline": s.options.cmdline,
        "config": read(s.cfg.path),
        "rules_files": [{"name": f, "variants": [{"content": read(f)}]} for f in s.rules_files],
    }
    s.stdout.write(json.dumps(support, separators=(",", ":")) + "\n")
    return RunResult.exit()


def create_pidfile(s: State) -> RunResult:
    p = s.options.pidfile
    if not p:
        return RunResult.ok()
    try:
        with open(p, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as e:
        log.error(f"Could not write pid to pidfile {p}: {e.strerror}. Exiting.")
        return RunResult.fatal(f"Could not write pid to pidfile {p}")
    return RunResult.ok()


def init_outputs(s: State) -> RunResult:
    if s.options.dry_run:
        return RunResult.ok()
    s.hub = OutputHub.from_config(s.cfg, unbuffered=s.options.unbuffered)
    s.hub.start()
    return RunResult.ok()


def _capture_mode(s: State) -> bool:
    """Reading a capture file (``-e`` or ``engine.kind: replay``) rather than a live source."""
    return bool(s.options.trace_filename) or s.cfg["engine.kind"] == "replay"


def start_webserver(s: State) -> RunResult:
    cfg = s.cfg
    if s.options.dry_run or not cfg["webserver.enabled"] or _capture_mode(s):
        return RunResult.ok()  # as Falco: no health/metrics endpoint when reading a capture
    from falco_cli import metrics
    from falco_cli.webserver import WebServer
    prom = cfg["metrics.enabled"] and cfg["webserver.prometheus_metrics_enabled"]
    ssl_cert = cfg["webserver.ssl_certificate"] if cfg["webserver.ssl_enabled"] else None
    try:
        ws = WebServer(cfg["webserver.listen_address"], cfg["webserver.listen_port"],
                       healthz=cfg["webserver.k8s_healthz_endpoint"], versions=versions_info,
                       metrics=(lambda: metrics.prometheus(s)) if prom else None,
                       ssl_certificate=ssl_cert)
    except OSError as e:
        return RunResult.fatal(f"Could not start webserver on {cfg['webserver.listen_address']}:"
                               f"{cfg['webserver.listen_port']}: {e.strerror}")
    log.info(f"Starting health webserver with threadiness 1, listening on "
             f"{cfg['webserver.listen_address']}:{ws.port}")
    ws.start()
    s.webserver = ws
    return RunResult.ok()


def create_signal_handlers(s: State) -> RunResult:
    if threading.current_thread() is threading.main_thread():
        s.signals.install()
    return RunResult.ok()


# ---------------------------------------------------------------------------------------------
# Event processing
# ---------------------------------------------------------------------------------------------
def _open_source(s: State) -> tuple[Any, str] | RunResult:
    """Pick the event source: ``-e``/``engine.kind=replay``, else the live eBPF probe (or the
    kernel module with ``engine.kind=kmod``); a live source that cannot open is fatal."""
    cfg = s.cfg
    path = s.options.trace_filename
    if not path and cfg["engine.kind"] == "replay":
        path = cfg["engine.replay.capture_file"] or None
        if not path:
            return RunResult.fatal("engine.kind is 'replay' but engine.replay.capture_file "
                                   "is empty")
    from sinsp import Inspector
    if path:
        types, fields = _replay_interest(s)
        try:
            insp = Inspector.from_capture(path, event_types=types, fields=fields,
                                          max_threads=cfg["falco_libs.thread_table_size"])
        except FileNotFoundError:
            return RunResult.fatal(f"Could not open trace file {path}: No such file or directory")
        except Exception as e:
            return RunResult.fatal(f"Could not open trace file {path}: {e}")
        s.source_kind = "replay"
        s.capture_file = path
        s.prefilter = getattr(insp, "prefilter", None)
        log.info(f"Reading system call events from file: {path}")
        return insp, "syscall"
    kind = cfg["engine.kind"]
    if kind == "nodriver" or s.options.nodriver:
        return RunResult.fatal("nodriver: no event source available (pyfalco has no plugins)")
    if kind == "gvisor":
        return RunResult.fatal("engine.kind 'gvisor' is not supported by pyfalco")
    if kind == "kmod":
        return _open_kmod(s)
    if kind == "ebpf":
        log.warning("engine.kind 'ebpf' (the legacy probe) is not available in pyfalco; using "
                    "its CO-RE eBPF probe (modern_ebpf)")
    live_err = _live_unavailable_reason()
    if live_err is None:
        try:
            from scap.engines.bpf import BpfSource
            syscalls = _interesting_syscalls(s)
            preset = cfg[f"engine.{kind}.buf_size_preset"] if kind != "replay" else 4
            ring = 1 << (20 + max(0, min(int(preset), 10) - 1))   # Falco's presets: 1 MiB..512 MiB
            src = BpfSource(syscalls, drop_self=True, ring_bytes=ring,
                            extras=_probe_extras(s)).open()
            insp = Inspector(src, max_threads=cfg["falco_libs.thread_table_size"])
            s.source_kind = "live"
            s.live_source = src
            # syscalls the probe has no filler for arrive as the generic event: rules naming
            # them must run there too (evt.type compares by name), as on a full driver
            from scap.engines.bpf import GENERIC_SYSCALLS
            s.generic_syscalls = frozenset(GENERIC_SYSCALLS)
            s.engine.treat_as_generic(s.generic_syscalls)
            _set_hotpath(s, insp)
            n = "all" if syscalls is None else str(len(syscalls))
            log.info("Loaded event sources: syscall, k8s_audit")
            log.info("Enabled event sources: syscall")
            log.info(f"Opening 'syscall' source with modern BPF probe ({n} syscalls of interest).")
            return insp, "syscall"
        except Exception as e:
            live_err = str(e)
    # As Falco: a live driver that cannot be opened is fatal (never a silent replay that
    # would look like live alerts); say how to get going instead.
    demo = bundled_capture_path()
    hint = f" (a demo capture ships at {demo})" if demo else ""
    return RunResult.fatal(f"Unable to open the live syscall source (engine.kind={kind}, "
                           f"modern BPF probe): {live_err}. Run pyfalco as root on a kernel "
                           f"with BTF and eBPF, or replay a capture with -e FILE{hint}")


KMOD_DEVICE_PREFIX = "/dev/pyfalco"


def _open_kmod(s: State) -> tuple[Any, str] | RunResult:
    """``engine.kind: kmod``: the pyfalco kernel module (``driver/kmod``). As in Falco, a
    driver that cannot be opened is fatal: no fallback to another driver or the demo capture."""
    from sinsp import Inspector
    try:
        from scap.engines.kmod import KmodSource
    except ImportError as e:
        return RunResult.fatal(f"Unable to use the kernel module (engine.kind=kmod): {e}")
    syscalls = _interesting_syscalls(s)
    try:
        src = KmodSource(syscalls, drop_self=True, device_prefix=KMOD_DEVICE_PREFIX).open()
    except Exception as e:
        errno_ = getattr(e, "errno", None)
        if errno_ == errno.ENOENT:
            hint = (f"the device {KMOD_DEVICE_PREFIX}0 does not exist: the pyfalco kernel "
                    f"module is not loaded. Build and load it with "
                    f"'make -C driver/kmod && insmod driver/kmod/pyfalco.ko', or use "
                    f"engine.kind=modern_ebpf")
        elif errno_ in (errno.EACCES, errno.EPERM):
            hint = (f"permission denied on {KMOD_DEVICE_PREFIX}0: run pyfalco as root")
        else:
            hint = "see the driver error above"
        return RunResult.fatal(f"Unable to open the kernel module (engine.kind=kmod): {e}; "
                               f"{hint}")
    insp = Inspector(src, max_threads=s.cfg["falco_libs.thread_table_size"])
    s.source_kind = "live"
    s.live_source = src
    from scap.engines.kmod import KMOD_GENERIC_SYSCALLS
    s.generic_syscalls = frozenset(KMOD_GENERIC_SYSCALLS)
    s.engine.treat_as_generic(s.generic_syscalls)  # its unfilled syscalls come as generic
    _set_hotpath(s, insp)
    n = "all" if syscalls is None else str(len(syscalls))
    log.info("Enabled event sources: syscall")
    log.info(f"Opening 'syscall' source with Kernel module ({n} syscalls of interest).")
    return insp, "syscall"


def _replay_interest(s: State) -> tuple[frozenset[int] | None, frozenset[str] | None]:
    """The prefilter of a replay: the event types the enabled syscall rules can match plus the
    drop markers (the drop monitor's input), and the fields the rules read (so the state
    events those need are parsed too); ``(None, None)`` = no prefilter, with ``-A`` and with
    ``simulate_drops`` (whose checks run on every event, as live)."""
    if s.options.all_events or s.cfg["syscall_event_drops.simulate_drops"]:
        return None, None
    from sinsp.parsers.prefilter import rules_interest
    types, fields = rules_interest(s.engine.enabled_rules("syscall"))
    if types is None:
        return None, None
    return frozenset(types) | DROP_TYPES, (None if fields is None else frozenset(fields))


def _capture_first_ts(path: str) -> int:
    """The first event's timestamp of a capture (a prefiltered reader may not yield it)."""
    import scap
    with scap.open(path) as cap:
        for rec in cap:
            return int(rec.ts)
    return 0


def _interesting_syscalls(s: State) -> set[str] | None:
    """The syscalls the enabled rules can match (Falco's interesting set), plus
    ``base_syscalls.custom_set``; None (all) with -A or when a rule matches every type."""
    if s.options.all_events:
        return None
    from scap.engines.bpf import syscalls_for_event_types
    types: set[int] = set()
    for r in s.engine.enabled_rules("syscall"):
        if r.event_types is None:
            return None
        types |= set(r.event_types)
    names = syscalls_for_event_types(types)
    if names is None:
        return None
    return set(names) | {str(x) for x in s.cfg["base_syscalls.custom_set"]}


def _probe_extras(s: State) -> tuple[str, ...]:
    """Optional probe programs: sched_switch when an enabled rule matches `evt.type=switch`
    or ``base_syscalls.custom_set`` names it ("switch"/"sched_switch"); off otherwise."""
    from scap.engines.bpf import extras_for
    types: set[int] = set()
    for r in s.engine.enabled_rules("syscall"):
        if r.event_types is not None:
            types |= set(r.event_types)
    return extras_for(types, (str(x) for x in s.cfg["base_syscalls.custom_set"]))


def _live_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "not running as root"
    try:
        import scap.engines.bpf  # noqa: F401
    except ImportError as e:
        return f"eBPF source not available: {e}"
    return None


def _paced(events: Any, s: State) -> Iterator[Any]:
    """``engine.replay.realtime``: deliver a replay at the pace it was recorded."""
    first_ts = None
    t0 = time.monotonic()
    for evt in events:
        ts = evt.record.ts
        if first_ts is None:
            first_ts = ts
        else:
            delay = (ts - first_ts) / 1e9 - (time.monotonic() - t0)
            while delay > 0 and not s.signals.any():
                s.signals.terminate.wait(min(delay, 0.05))
                delay = (ts - first_ts) / 1e9 - (time.monotonic() - t0)
        yield evt


def _set_hotpath(s: State, insp: Any) -> None:
    """Live: let sinsp's C hot path absorb the open/close exits no enabled rule can match
    (``sinsp.hotpath``; the engine says which, per type, from the rules' event-local
    conditions). Called at start and after every rules reload; without the native
    extension it stays off and every event goes through the loop as before."""
    from sinsp.hotpath import HOT_TYPES, import_error
    if insp.set_hotpath(s.engine.local_filters(HOT_TYPES)):
        log.debug("live hot path on: open/close exits no rule can match update the state in C")
    elif (why := import_error()) is not None:
        log.info(f"live hot path off ({why}): every open/close event goes through the rules loop")


class _LoopEndError(Exception):
    """Raised from the per-batch hook to end the event loop with ``result`` (a terminating
    signal, or the drop manager saying exit)."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(result)
        self.result = result


def _handle_signals(s: State) -> bool:
    """Act on pending signals; False means stop."""
    sig = s.signals
    sig.pending = False   # before looking: a signal arriving now sets it again
    if sig.reopen.is_set():
        sig.reopen.clear()
        log.info("SIGUSR1 received, reopening outputs...")
        if s.hub is not None:
            s.hub.reopen()
    if sig.terminate.is_set():
        name = "SIGINT" if sig.last_terminate_signal in (None, 2) else "SIGTERM"
        log.info(f"{name} received, exiting...")
        return False
    if sig.reload.is_set():
        sig.reload.clear()
        log.info("SIGHUP received, reloading config and rules...")
        reload(s)
    return True


def reload(s: State) -> bool:
    """Re-read config and rules; swap them in only if everything loads."""
    old_cfg, old_engine = s.config, s.engine
    try:
        path = old_cfg.path if old_cfg is not None else None
        new_cfg = config_mod.load(path, s.options.overrides)
    except ConfigError as e:
        s.reload_failures += 1
        log.error(f"Reload failed, keeping the running configuration and rules: {e}")
        return False
    s.config = new_cfg
    try:
        eng = _make_engine(s)
        ok, err, files = _load_rules(s, eng)
    except Exception as e:  # the reload must never take the running engine down
        ok, err, files = False, str(e), []
    if not ok:
        s.config = old_cfg
        s.engine = old_engine
        s.reload_failures += 1
        log.error(f"Reload failed, keeping the running configuration and rules: {err}")
        return False
    log.configure(new_cfg["log_level"], new_cfg["log_stderr"], new_cfg["log_syslog"])
    for w in new_cfg.warnings:
        log.warning(w)
    s.engine = eng
    s.rules_files = files
    s.extra_rule_formats = {}
    if s.live_source is not None:
        s.live_source.set_interesting(_interesting_syscalls(s))
        # as at start: after the interesting set, the new engine learns which syscalls the
        # driver sends as the generic event (rules naming them must run there)
        eng.treat_as_generic(s.generic_syscalls)
    elif s.prefilter is not None:
        _warn_if_prefilter_narrow(s)
    if s.hub is not None and _outputs_changed(old_cfg, new_cfg):
        old_hub = s.hub
        s.hub = OutputHub.from_config(new_cfg, unbuffered=s.options.unbuffered)
        s.hub.start()
        old_hub.stop()
    elif s.hub is not None:
        s.hub.min_priority = priority_num(new_cfg["priority"])
    s.reloads += 1
    log.info(f"Reload complete: {len(files)} rules file(s) loaded")
    return True


def _warn_if_prefilter_narrow(s: State) -> None:
    """A replay's reader keeps the prefilter it was opened with: rules loaded by a reload see
    only events of the types kept for the rules of the start (state stays complete for the
    fields those needed). Say so when the new rules want more."""
    from sinsp.parsers.prefilter import prefilter_types
    types, fields = _replay_interest(s)
    need = None if types is None else prefilter_types(types, fields)
    if need is None or not set(need) <= set(s.prefilter or ()):
        log.warning("Reloaded rules need event types the running replay's prefilter drops; "
                    "they see only the event types kept when the capture was opened")


_OUTPUT_KEYS = ("json_output", "json_include_output_property", "json_include_tags_property",
                "json_include_message_property", "json_include_output_fields_property",
                "buffered_outputs", "outputs.rate", "outputs.max_burst", "outputs_queue.capacity",
                "output_timeout")


def _outputs_changed(a: Config | None, b: Config) -> bool:
    if a is None:
        return True
    for k, v in b.values.items():
        if (k in _OUTPUT_KEYS or k.split(".")[0].endswith("_output")) and a.values.get(k) != v:
            return True
    return False


def process_events(s: State) -> RunResult:
    if s.options.dry_run:
        log.debug("Skipping event processing in dry-run")
        return RunResult.ok()
    from falco_cli import k8s_source  # k8s_audit: audit files and the webhook (own loop)
    k8s = k8s_source.process_if_selected(s)
    if k8s is not None:
        return k8s
    opened = _open_source(s)
    if isinstance(opened, RunResult):
        s.source_failed = not opened.success
        return opened
    insp, source = opened
    cfg = s.cfg
    acts = [str(a) for a in cfg["syscall_event_drops.actions"]]
    assert s.hub is not None
    hub_ref = s

    def emit_internal(ts: int, prio: int, msg: str, rule: str, fields: dict[str, Any]) -> None:
        assert hub_ref.hub is not None
        hub_ref.hub.emit_internal(ts, prio, msg, rule, fields)

    s.drops = DropManager(emit_internal, acts, cfg["syscall_event_drops.threshold"],
                          cfg["syscall_event_drops.rate"], cfg["syscall_event_drops.max_burst"],
                          cfg["syscall_event_drops.simulate_drops"], ebpf=s.source_kind == "live")
    counters = DropCounters()
    duration_ns = int(s.options.duration_s * 1e9)
    start_ts = 0
    wall_start = time.monotonic()
    res = RunResult.ok()
    events: Any = insp
    if cfg["engine.replay.realtime"] and s.source_kind == "replay":
        events = _paced(insp, s)
    stats_fn: Callable[[], Any] | None = getattr(s.live_source, "driver_stats", None)
    if s.live_source is not None:
        s.signals.on_terminate.append(s.live_source.stop)
        if s.options.duration_s:
            timer = threading.Timer(s.options.duration_s, s.live_source.stop)
            timer.daemon = True
            timer.start()
    sig = s.signals
    drops = s.drops
    concurrent = s.concurrent_sources
    lock = s.lock
    process = s.engine.process
    wanted = _wanted_mask(s.engine)
    n_wanted = len(wanted)
    # a replay's drop monitor runs at drop markers only (see drops.py), so it does not depend
    # on which events the prefilter keeps; live (and simulate_drops) checks on every event
    markers = s.source_kind == "replay" and not cfg["syscall_event_drops.simulate_drops"]
    before = DropCounters()
    n_seen = 0
    if duration_ns and s.source_kind == "replay" and s.prefilter is not None and \
            s.capture_file:
        start_ts = _capture_first_ts(s.capture_file)   # -M counts from the capture's start
    final_stats: Any = None

    def check_drops(ts: int) -> bool:
        """Live: the drop manager's check, at most once per second of event time."""
        counters.n_evts = s.n_evts
        counters.n_drops = s.n_drops
        if stats_fn is not None:
            st = stats_fn()
            counters.n_evts, counters.n_drops = st.n_evts, st.n_drops
            counters.detail = dict(getattr(st, "detail", {}) or {})
            s.n_drops = st.n_drops
        return drops.process(ts, counters)

    hot = s.live_source is not None and getattr(insp, "hotpath_program", None) is not None

    def handle_signals() -> bool:
        """Act on pending signals (False: stop); a reload may have swapped the engine."""
        nonlocal process, wanted, n_wanted
        if not _handle_signals(s):
            return False
        process = s.engine.process
        wanted = _wanted_mask(s.engine)
        n_wanted = len(wanted)
        if hot:
            _set_hotpath(s, insp)
        return True

    def on_batch(last_ts: int, absorbed: int) -> None:
        """Once per live batch (empty ones too): the events the hot path absorbed count as
        captured, and signals and the drop check are handled even when every event of a
        storm was absorbed, or none came (no event reaches the loop then)."""
        if absorbed:
            if concurrent:
                with lock:
                    s.n_evts += absorbed
            else:
                s.n_evts += absorbed
        if sig.pending and not handle_signals():
            raise _LoopEndError(RunResult.ok())
        if last_ts > drops.next_check_ts and not markers and not check_drops(last_ts):
            raise _LoopEndError(RunResult.fatal("Drop manager internal error"))

    if s.live_source is not None:
        insp.on_batch = on_batch
    ticker = _start_metrics(s)
    try:
        for evt in events:
            if sig.pending and not handle_signals():
                break
            rec = evt.record
            ts = rec.ts
            if start_ts == 0:
                start_ts = ts
            elif duration_ns and ts - start_ts >= duration_ns:
                break
            n_seen += 1
            if concurrent:
                with lock:               # the k8s_audit thread counts into the same state
                    s.n_evts += 1
            else:
                s.n_evts += 1
            etype = rec.type
            if markers:
                if etype == PPME_DROP_E:
                    seq = rec.seq
                    before.n_evts = seq if seq >= 0 else s.n_evts - 1
                    before.n_drops = s.n_drops
                    s.n_drops += 1
                    if not drops.process_marker(ts, before):
                        res = RunResult.fatal("Drop manager internal error")
                        break
            else:
                if etype == PPME_DROP_E:
                    s.n_drops += 1
                if ts > drops.next_check_ts and not check_drops(ts):  # once per second
                    res = RunResult.fatal("Drop manager internal error")
                    break
            if etype < n_wanted and not wanted[etype]:
                continue                         # no enabled rule can match this type
            matches = process(evt, source)
            if matches:
                if concurrent:
                    with lock:
                        _alert(s, evt, matches)
                else:
                    _alert(s, evt, matches)
    except _LoopEndError as end:
        res = end.result
    except KeyboardInterrupt:
        log.info("SIGINT received, exiting...")
    except Exception as e:
        res = RunResult.fatal(f"{type(e).__name__}: {e}")
    finally:
        if s.prefilter is not None and s.source_kind == "replay":
            # count what the loop would have seen without the prefilter: every event read
            # (those dropped in C included) but the hidden ones, as before
            st = insp.stats
            read = st.events + insp.prefiltered
            unseen = read - st.hidden_state_only - st.hidden_container - n_seen
            if unseen > 0:
                if concurrent:
                    with lock:
                        s.n_evts += unseen
                else:
                    s.n_evts += unseen
        close = getattr(insp, "close", None)
        if close is not None:
            close()
        if ticker is not None:
            ticker.stop()
        if s.live_source is not None:
            try:
                final_stats = stats_fn() if stats_fn is not None else None
            except Exception as e:
                log.debug(f"driver stats unavailable: {e}")
            s.live_source.close()
    if res.success and s.source_kind == "replay" and s.options.duration_s and \
            not s.signals.terminate.is_set():
        # Falco honors -M with a trace file by waiting until the duration is reached.
        left = s.options.duration_s - (time.monotonic() - wall_start)
        if left > 0:
            s.signals.terminate.wait(left)
    if s.options.verbose:
        if final_stats is not None:
            sys.stderr.write(f"Driver Events:{final_stats.n_evts}\n"
                             f"Driver Drops:{final_stats.n_drops}\n")
        if hot:
            hs = insp.hot_stats
            sys.stderr.write(f"Hot path: {hs.absorbed} events no rule could match kept in C "
                             f"({hs.opens} opens, {hs.closes} closes)\n")
        el = time.monotonic() - wall_start
        sys.stderr.write(f"Elapsed time: {el:.3f}, Captured Events: {s.n_evts}, "
                         f"{(s.n_evts / el) if el > 0 else 0:.2f} eps\n")
    return res


def _wanted_mask(eng: Any) -> bytes:
    """One byte per event type: 1 if an enabled syscall rule can match it (the loop skips
    ``process`` for the others). Engines without ``wanted_types`` get an empty mask (every
    type is processed)."""
    wanted_types = getattr(eng, "wanted_types", None)
    if wanted_types is None:
        return b""
    types = wanted_types("syscall")
    mask = bytearray(max(types, default=-1) + 1 + 512)
    for t in types:
        mask[t] = 1
    return bytes(mask)


def _start_metrics(s: State) -> Any:
    """``metrics.enabled`` with ``output_rule`` or ``output_file``: periodic snapshots."""
    cfg = s.cfg
    if not cfg["metrics.enabled"] or not (cfg["metrics.output_rule"] or cfg["metrics.output_file"]):
        return None
    from falco_cli.metrics import MetricsTicker, parse_interval
    ticker = MetricsTicker(s, parse_interval(cfg["metrics.interval"]), cfg["metrics.output_rule"],
                           cfg["metrics.output_file"])
    ticker.start()
    return ticker


def _alert(s: State, evt: Any, matches: list[Any]) -> None:
    """Count and emit the matches of one event (the engine already applied ``priority``)."""
    eng = s.engine
    for m in matches:
        prio = priority_num(m.priority)
        name = m.rule
        s.by_priority[prio] += 1
        if name not in s.rule_order:
            # Falco lists triggered rules in rule load order
            s.rule_order[name] = (s.reloads, getattr(getattr(m, "compiled", None), "order", 0))
        s.by_rule[name] += 1
        alert = eng.format_alert(m, evt)
        if s.extra_format is not None and m.source == "syscall":   # Falco: syscall rules only
            alert = _with_extra(s, m.rule, alert, evt)
        assert s.hub is not None
        s.hub.emit(alert)


def _with_extra(s: State, rule: str, alert: Any, evt: Any) -> Any:
    """Falco's ``apply_output_substitutions``: ``-pc``/``-pk`` *replace* ``%container.info``
    in a rule output that has it; otherwise (and for any other ``-p``) the format is appended."""
    fmt = s.extra_rule_formats.get(rule, False)
    if fmt is False:
        fmt = s.extra_rule_formats[rule] = _replaced_format(s, rule)
    if fmt is None:
        return dataclasses.replace(
            alert, output=alert.output + " " + s.extra_format.render(evt),
            output_fields={**alert.output_fields, **s.extra_format.values(evt)})
    message = fmt.render(evt)
    prefix = alert.output[:len(alert.output) - len(alert.message)]
    times = {k: v for k, v in alert.output_fields.items() if k.startswith("evt.time")}
    return dataclasses.replace(alert, output=prefix + message, message=message,
                               output_fields={**fmt.values(evt), **times})


def _replaced_format(s: State, rule: str) -> Any:
    """The rule's output with ``%container.info`` replaced by the ``-pc``/``-pk`` format, or
    None when the rule has no ``%container.info`` (or ``-p`` is a custom format)."""
    if s.options.print_additional not in ("c", "container", "k", "kubernetes"):
        return None
    from falco_cli.describe import raw_rule
    raw = raw_rule(s.engine, rule)
    out = getattr(raw, "output", "") or ""
    if "%container.info" not in out:
        return None
    from engine import OutputFormat
    return OutputFormat(out.strip().replace("%container.info", s.extra_format.text),
                        s.engine.registries["syscall"])


def summary_text(s: State) -> str:
    """Falco's end-of-run stats (``stats_manager::format``)."""
    out = [f"Events detected: {sum(s.by_rule.values())}\n", "Rule counts by severity:\n"]
    for p in range(len(PRIORITY_NAMES)):
        n = s.by_priority.get(p, 0)
        if n:
            name = "INFO" if p == 6 else PRIORITY_NAMES[p].upper()
            out.append(f"   {name}: {n}\n")
    out.append("Triggered rules by rule name:\n")
    for name in sorted(s.by_rule, key=lambda r: s.rule_order[r]):
        out.append(f"   {name}: {s.by_rule[name]}\n")
    return "".join(out)


def cleanup(s: State) -> None:
    if s.hub is not None:
        s.hub.stop()
        s.hub = None
    if s.webserver is not None:
        s.webserver.stop()
        s.webserver = None
    if s.options.pidfile:
        with contextlib.suppress(OSError):
            os.unlink(s.options.pidfile)


STEPS: tuple[Callable[[State], RunResult], ...] = (
    load_config,
    print_version,
    list_fields,
    validate_rules_files,
    load_rules_files,
    describe_rules,
    explain_rule,
    print_support,
    create_pidfile,
    create_signal_handlers,
    init_outputs,
    start_webserver,
    process_events,
)


def run(s: State) -> RunResult:
    """Run the steps; on the event-processing path print the summary whatever happened."""
    res = RunResult.ok()
    processed = False
    try:
        for step in STEPS:
            if step is process_events:
                processed = not s.options.dry_run
            res = step(s)
            if not res.proceed:
                break
    finally:
        cleanup(s)
    if processed and not s.source_failed:
        if s.drops is not None:
            s.drops.print_stats()
        _report_rule_errors(s)
        try:
            s.stdout.write(summary_text(s))
            s.stdout.flush()
        except BrokenPipeError:  # `pyfalco ... | head`: the reader is gone, nothing to print
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, s.stdout.fileno())
    return res


def _report_rule_errors(s: State) -> None:
    """Rules whose condition raised while evaluating an event (counted and skipped, the
    stream goes on): say how many, and each rule's first error, so a rule silenced by a bug
    or a malformed event does not go unnoticed."""
    rs = getattr(s.engine, "ruleset", None)
    n = getattr(rs, "errors", 0)
    if not n:
        return
    samples = getattr(rs, "error_samples", {})
    detail = "; ".join(f"{name}: {msg}" for name, msg in samples.items())
    log.warning(f"{n} rule evaluation error(s), those rules skipped for those events "
                f"(first error of each rule: {detail})")


def hostname() -> str:
    return socket.gethostname()
