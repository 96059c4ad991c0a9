"""falco.yaml + ``-o key=value``: read, override, check, and expose as one typed value.

Falco reads its YAML leniently: unknown keys are ignored, values are converted on use. We keep the
"unknown keys are ignored" part (with a warning naming the key, since a typo like ``json_ouput``
otherwise silently does nothing) but check every known key's type up front, so a wrong type is an
error naming the key, before any event is read.

``-o`` values arrive as strings, as in Falco (``yaml_helper::set_scalar``): they are converted to
the type of the key they land on, so ``-o json_output=True`` and ``-o outputs.rate=1`` behave as in
falco.yaml. A value starting with ``[`` or ``{`` is read as YAML (a list or a map).
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from falco_cli import log


class ConfigError(Exception):
    """A configuration problem, located by file and key (dotted path)."""

    def __init__(self, message: str, key: str | None = None, path: str | None = None):
        self.key = key
        self.path = path
        where = ""
        if path:
            where += f"{path}: "
        if key:
            where += f"{key}: "
        super().__init__(where + message)


# ---------------------------------------------------------------------------------------------
# The schema: dotted key -> (type, default). Types: bool, int, float, str, list, dict, "num"
# (int or float). Keys that are maps of their own are listed through their leaves; a key mapped
# to ``dict`` is accepted as an opaque map.
# ---------------------------------------------------------------------------------------------
NUM = "num"

SCHEMA: dict[str, tuple[Any, Any]] = {
    "config_files": (list, []),
    "watch_config_files": (bool, True),
    "rules_file": (list, None),
    "rules_files": (list, None),
    "rules": (list, []),
    "engine.kind": (str, "modern_ebpf"),
    "engine.kmod.buf_size_preset": (int, 4),
    "engine.kmod.drop_failed_exit": (bool, False),
    "engine.ebpf.probe": (str, ""),
    "engine.ebpf.buf_size_preset": (int, 4),
    "engine.ebpf.drop_failed_exit": (bool, False),
    "engine.modern_ebpf.cpus_for_each_buffer": (int, 2),
    "engine.modern_ebpf.buf_size_preset": (int, 4),
    "engine.modern_ebpf.drop_failed_exit": (bool, False),
    "engine.replay.capture_file": (str, ""),
    "engine.replay.realtime": (bool, False),
    "engine.gvisor.config": (str, ""),
    "engine.gvisor.root": (str, ""),
    "load_plugins": (list, []),
    "plugins": (list, []),
    "time_format_iso_8601": (bool, False),
    "priority": (str, "debug"),
    "json_output": (bool, False),
    "json_include_output_property": (bool, True),
    "json_include_tags_property": (bool, True),
    "json_include_message_property": (bool, False),
    "json_include_output_fields_property": (bool, True),
    "buffered_outputs": (bool, False),
    "rule_matching": (str, "first"),
    "outputs_queue.capacity": (int, 0),
    "outputs.rate": (NUM, 0),
    "outputs.max_burst": (int, 1000),
    "output_timeout": (int, 2000),
    "stdout_output.enabled": (bool, True),
    "syslog_output.enabled": (bool, True),
    "file_output.enabled": (bool, False),
    "file_output.keep_alive": (bool, False),
    "file_output.filename": (str, "./events.txt"),
    "program_output.enabled": (bool, False),
    "program_output.keep_alive": (bool, False),
    "program_output.program": (str, "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"),
    "http_output.enabled": (bool, False),
    "http_output.url": (str, ""),
    "http_output.user_agent": (str, "falcosecurity/falco"),
    "http_output.insecure": (bool, False),
    "http_output.ca_cert": (str, ""),
    "http_output.ca_bundle": (str, ""),
    "http_output.ca_path": (str, "/etc/ssl/certs"),
    "http_output.mtls": (bool, False),
    "http_output.client_cert": (str, "/etc/ssl/certs/client.crt"),
    "http_output.client_key": (str, "/etc/ssl/certs/client.key"),
    "http_output.echo": (bool, False),
    "http_output.compress_uploads": (bool, False),
    "http_output.keep_alive": (bool, False),
    "grpc.enabled": (bool, False),
    "grpc.bind_address": (str, "unix:///run/falco/falco.sock"),
    "grpc.threadiness": (int, 0),
    "grpc_output.enabled": (bool, False),
    "log_stderr": (bool, True),
    "log_syslog": (bool, True),
    "log_level": (str, "info"),
    "libs_logger.enabled": (bool, False),
    "libs_logger.severity": (str, "debug"),
    "syscall_event_drops.threshold": (NUM, 0.1),
    "syscall_event_drops.actions": (list, ["log", "alert"]),
    "syscall_event_drops.rate": (NUM, 0.03333),
    "syscall_event_drops.max_burst": (int, 1),
    "syscall_event_drops.simulate_drops": (bool, False),
    "syscall_event_timeouts.max_consecutives": (int, 1000),
    "webserver.enabled": (bool, True),
    "webserver.threadiness": (int, 0),
    "webserver.listen_port": (int, 8765),
    "webserver.listen_address": (str, "0.0.0.0"),
    "webserver.k8s_healthz_endpoint": (str, "/healthz"),
    "webserver.prometheus_metrics_enabled": (bool, False),
    "webserver.ssl_enabled": (bool, False),
    "webserver.ssl_certificate": (str, "/etc/falco/falco.pem"),
    "metrics.enabled": (bool, False),
    "metrics.interval": (str, "1h"),
    "metrics.output_rule": (bool, True),
    "metrics.output_file": (str, ""),
    "metrics.rules_counters_enabled": (bool, True),
    "metrics.resource_utilization_enabled": (bool, True),
    "metrics.state_counters_enabled": (bool, True),
    "metrics.kernel_event_counters_enabled": (bool, True),
    "metrics.libbpf_stats_enabled": (bool, True),
    "metrics.convert_memory_to_mb": (bool, True),
    "metrics.include_empty_values": (bool, False),
    "base_syscalls.custom_set": (list, []),
    "base_syscalls.repair": (bool, False),
    "falco_libs.thread_table_size": (int, 262144),
    "syscall_buf_size_preset": (int, 4),
    "syscall_drop_failed_exit": (bool, False),
    "metadata_download.max_mb": (int, 100),
    "metadata_download.chunk_wait_us": (int, 1000),
    "metadata_download.watch_freq_sec": (int, 1),
    "append_output": (list, []),
    "static_fields": (dict, {}),
    "container_engines": (dict, {}),
    "modern_bpf.cpus_for_each_syscall_buffer": (int, 2),
}

# Keys we accept but whose feature pyfalco does not have: (key, value that is harmless) -> why.
UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "grpc.enabled": (False, "gRPC server is not supported by pyfalco"),
    "grpc_output.enabled": (False, "gRPC output is not supported by pyfalco"),
    "config_files": ([], "config_files (config includes) are not supported by pyfalco"),
    "libs_logger.enabled": (False, "libs_logger has no equivalent in pyfalco"),
    "engine.gvisor.config": ("", "the gvisor engine is not supported by pyfalco"),
    "watch_config_files": (False, "pyfalco does not watch files; send SIGHUP to reload"),
    "engine.kmod.drop_failed_exit": (False, "pyfalco's probe has no drop_failed_exit"),
    "engine.ebpf.drop_failed_exit": (False, "pyfalco's probe has no drop_failed_exit"),
    "engine.modern_ebpf.drop_failed_exit": (False, "pyfalco's probe has no drop_failed_exit"),
    "engine.modern_ebpf.cpus_for_each_buffer": (2, "pyfalco's probe uses one ring buffer"),
    "modern_bpf.cpus_for_each_syscall_buffer": (2, "pyfalco's probe uses one ring buffer"),
    "syscall_buf_size_preset": (4, "use engine.modern_ebpf.buf_size_preset"),
    "syscall_drop_failed_exit": (False, "pyfalco's probe has no drop_failed_exit"),
    "metadata_download.max_mb": (100, "Kubernetes API metadata (-k) is not supported"),
    "metadata_download.chunk_wait_us": (1000, "Kubernetes API metadata (-k) is not supported"),
    "metadata_download.watch_freq_sec": (1, "Kubernetes API metadata (-k) is not supported"),
    "append_output": ([], "append_output is not supported (use -p)"),
    "static_fields": ({}, "static_fields is not supported"),
    "container_engines": ({}, "container metadata comes from cgroups; runtime sockets are not "
                              "queried"),
    "syscall_event_timeouts.max_consecutives": (1000, "the timeouts notification is not "
                                                      "implemented"),
    "base_syscalls.repair": (False, "base_syscalls.repair is not implemented (the state "
                                    "syscalls are always traced)"),
}

# Plugins pyfalco has built in: the k8saudit source (any ``k8saudit*`` name, as the plugin's
# variants k8saudit-eks/-gke are named) and the json extractor it is paired with.
BUILTIN_PLUGINS = ("k8saudit", "json")


def _is_builtin_plugin(name: str) -> bool:
    return name == "json" or name.startswith("k8saudit")


def _plugin_warnings(load: list[Any], plugins: list[Any]) -> list[str]:
    """Falco loads shared-library plugins; pyfalco has k8saudit and json built in, so only
    other names are worth a warning (they will not run)."""
    names = [str(n) for n in load or []]
    if not names:  # an empty load_plugins loads every configured plugin
        names = [str(p.get("name", "")) for p in plugins or [] if isinstance(p, dict)]
    builtin = ", ".join(BUILTIN_PLUGINS)
    return [f"Plugin '{n}' is not supported by pyfalco and is ignored (only {builtin} are "
            f"built in)" for n in names if not _is_builtin_plugin(n)]


ENGINE_KINDS = ("kmod", "ebpf", "modern_ebpf", "replay", "gvisor", "nodriver")
PRIORITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational",
              "info", "debug")
DROP_ACTIONS = ("ignore", "log", "alert", "exit")

_BOOL_WORDS = {"true": True, "yes": True, "on": True, "y": True,
               "false": False, "no": False, "off": False, "n": False}


# ---------------------------------------------------------------------------------------------
# Raw tree handling: dotted paths with list indices, as Falco's yaml_helper understands them.
# ---------------------------------------------------------------------------------------------
_SEG = re.compile(r"([^.\[\]]+)((?:\[\d*\])*)")


def _split_key(key: str) -> list[str | int]:
    """``plugins[0].open_params`` -> ``['plugins', 0, 'open_params']``; ``a[]`` appends (-1)."""
    parts: list[str | int] = []
    for seg in key.split("."):
        m = _SEG.fullmatch(seg)
        if not m:
            raise ConfigError(f"invalid option key '{key}'")
        parts.append(m.group(1))
        for idx in re.findall(r"\[(\d*)\]", m.group(2)):
            parts.append(int(idx) if idx else -1)
    return parts


def set_path(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` (dotted, with ``[i]``) in ``tree``, creating maps and lists on the way."""
    parts = _split_key(key)
    node: Any = tree
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: Any = None if last else ([] if isinstance(parts[i + 1], int) else {})
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError("is not a list", key=key)
            if part == -1 or part == len(node):
                node.append(value if last else nxt)
                part = len(node) - 1
            elif part > len(node):
                raise ConfigError(f"list index {part} out of range", key=key)
            elif last:
                node[part] = value
            if not last:
                if not isinstance(node[part], (dict, list)):
                    node[part] = nxt
                node = node[part]
        else:
            if not isinstance(node, dict):
                raise ConfigError("is not a map", key=key)
            if last:
                node[part] = value
            else:
                if not isinstance(node.get(part), (dict, list)):
                    node[part] = nxt
                node = node[part]


def _get_path(tree: dict[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def parse_override(opt: str) -> tuple[str, Any]:
    """Split one ``-o key=value``; values stay strings unless they look like YAML lists/maps."""
    if "=" not in opt:
        raise ConfigError(f"Option '{opt}' must be in the form key=value")
    key, value = opt.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"Option '{opt}' must be in the form key=value")
    v: Any = value
    if value.lstrip().startswith(("[", "{")):
        try:
            v = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"invalid YAML value: {e}", key=key) from e
    return key, v


# ---------------------------------------------------------------------------------------------
# Typed view
# ---------------------------------------------------------------------------------------------
def _coerce(key: str, typ: Any, value: Any, path: str | None) -> Any:
    """Convert one value to the schema type, accepting the strings ``-o`` produces."""
    def bad() -> ConfigError:
        tname = {NUM: "number", bool: "boolean", int: "integer", float: "number", str: "string",
                 list: "list", dict: "map"}[typ]
        article = "an" if tname[0] in "aeiou" else "a"
        return ConfigError(f"expected {article} {tname}, got {type(value).__name__} {value!r}",
                           key=key, path=path)

    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        raise bad()
    if typ is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip(), 0)
            except ValueError:
                raise bad() from None
        raise bad()
    if typ in (float, NUM):
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, str):
            try:
                f = float(value.strip())
            except ValueError:
                raise bad() from None
            return int(f) if f.is_integer() and "." not in value else f
        raise bad()
    if typ is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    if typ is list:
        if isinstance(value, list):
            return value
        if isinstance(value, str) and key in ("rules_file", "rules_files"):
            return [value]  # Falco accepts a scalar rules_file
        raise bad()
    if typ is dict:
        if isinstance(value, dict):
            return value
        raise bad()
    raise AssertionError(typ)


def _known_prefixes() -> set[str]:
    out: set[str] = set()
    for k in SCHEMA:
        parts = k.split(".")
        for i in range(1, len(parts)):
            out.add(".".join(parts[:i]))
    return out


_PREFIXES = _known_prefixes()


def _walk_unknown(tree: Any, prefix: str = "") -> Iterable[str]:
    if not isinstance(tree, dict):
        return
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if key in SCHEMA:
            continue
        if key in _PREFIXES:
            if isinstance(v, dict):
                yield from _walk_unknown(v, key)
            elif v is not None:
                yield key
            continue
        yield key


@dataclass(frozen=True, slots=True)
class RuleSelection:
    """One entry of the ``rules:`` list: enable or disable by rule name (wildcards) or tag."""
    enable: bool
    rule: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The checked configuration. ``values`` holds every schema key (dotted) with its value."""
    path: str | None
    values: dict[str, Any]
    raw: dict[str, Any]
    warnings: tuple[str, ...] = ()
    rules_selection: tuple[RuleSelection, ...] = ()
    overrides: tuple[str, ...] = field(default=())

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def rules_files(self) -> list[str]:
        """``rules_files`` wins over the older ``rules_file``; default is Falco's stock list."""
        rf = self.values.get("rules_files")
        if rf is None:
            rf = self.values.get("rules_file")
        if rf is None:
            return []
        return [str(x) for x in rf]


def build(raw: dict[str, Any], path: str | None = None, overrides: Iterable[str] = ()) -> Config:
    """Apply ``overrides`` to ``raw`` (a parsed falco.yaml) and check every known key."""
    tree = copy.deepcopy(raw) if raw else {}
    if not isinstance(tree, dict):
        raise ConfigError("the configuration must be a YAML map", path=path)
    ov = tuple(overrides)
    from_cmdline: set[str] = set()
    for opt in ov:
        key, value = parse_override(opt)
        set_path(tree, key, value)
        from_cmdline.add(re.sub(r"\[\d*\]", "", key))

    values: dict[str, Any] = {}
    given: set[str] = set()
    for key, (typ, default) in SCHEMA.items():
        present, v = _get_path(tree, key)
        if not present or v is None:
            values[key] = copy.deepcopy(default)
            continue
        given.add(key)
        where = "-o" if any(key == k or key.startswith(k + ".") for k in from_cmdline) else path
        values[key] = _coerce(key, typ, v, where)

    warnings = [f"Unknown configuration key '{k}' ignored" for k in _walk_unknown(tree)]
    for key, (harmless, why) in UNSUPPORTED.items():
        if why and key in given and values.get(key) != harmless:
            warnings.append(f"Configuration key '{key}' is not supported: {why}")

    warnings.extend(_plugin_warnings(values["load_plugins"], values["plugins"]))
    _check_enums(values, path)
    selection = _rules_selection(values["rules"], path)
    return Config(path=path, values=values, raw=tree, warnings=tuple(warnings),
                  rules_selection=selection, overrides=ov)


def _check_enums(values: dict[str, Any], path: str | None) -> None:
    if values["engine.kind"] not in ENGINE_KINDS:
        raise ConfigError(f"unknown engine kind '{values['engine.kind']}' (expected one of "
                          f"{', '.join(ENGINE_KINDS)})", key="engine.kind", path=path)
    if str(values["priority"]).lower() not in PRIORITIES:
        raise ConfigError(f"unknown priority '{values['priority']}'", key="priority", path=path)
    if values["rule_matching"] not in ("first", "all"):
        raise ConfigError(f"unknown rule_matching '{values['rule_matching']}' (expected first or "
                          "all)", key="rule_matching", path=path)
    if str(values["log_level"]).lower() not in log.LEVELS:
        raise ConfigError(f"unknown log_level '{values['log_level']}'", key="log_level", path=path)
    for act in values["syscall_event_drops.actions"]:
        if str(act) not in DROP_ACTIONS:
            raise ConfigError(f"unknown action '{act}' (expected one of {', '.join(DROP_ACTIONS)})",
                              key="syscall_event_drops.actions", path=path)
    acts = [str(a) for a in values["syscall_event_drops.actions"]]
    if "ignore" in acts and len(acts) > 1:
        raise ConfigError("ignore action cannot be combined with other actions",
                          key="syscall_event_drops.actions", path=path)
    thr = values["syscall_event_drops.threshold"]
    if not 0 <= thr <= 1:
        raise ConfigError("threshold must be a double in the range [0, 1]",
                          key="syscall_event_drops.threshold", path=path)
    if values["syscall_event_drops.rate"] <= 0:
        raise ConfigError("rate must be a positive number", key="syscall_event_drops.rate",
                          path=path)
    if values["syscall_event_drops.max_burst"] <= 0:
        raise ConfigError("max_burst must be a positive integer",
                          key="syscall_event_drops.max_burst", path=path)
    if values["metrics.enabled"] and not _metrics_interval_ok(values["metrics.interval"]):
        raise ConfigError(f"invalid interval '{values['metrics.interval']}' (a Prometheus "
                          "duration such as 15m, 1h, 30s)", key="metrics.interval", path=path)
    port = values["webserver.listen_port"]
    if not 0 <= port <= 65535:
        raise ConfigError("port out of range", key="webserver.listen_port", path=path)


def _metrics_interval_ok(text: str) -> bool:
    from falco_cli.metrics import parse_interval
    return parse_interval(text) > 0


def _rules_selection(entries: list[Any], path: str | None) -> tuple[RuleSelection, ...]:
    out = []
    for i, entry in enumerate(entries):
        key = f"rules[{i}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError("expected a map with one 'enable' or 'disable' key", key=key,
                              path=path)
        (op, body), = entry.items()
        if op not in ("enable", "disable") or not isinstance(body, dict):
            raise ConfigError("expected 'enable: {rule|tag: ...}' or 'disable: {rule|tag: ...}'",
                              key=key, path=path)
        rule, tag = body.get("rule"), body.get("tag")
        if rule is None and tag is None:
            raise ConfigError("needs a 'rule' or a 'tag'", key=key, path=path)
        out.append(RuleSelection(enable=op == "enable", rule=None if rule is None else str(rule),
                                 tag=None if tag is None else str(tag)))
    return tuple(out)


def read_yaml(path: str) -> dict[str, Any]:
    """Read a falco.yaml; an empty file is an empty map."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"Could not find configuration file at {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"Cannot read config file ({path}): {e}") from e
    except OSError as e:
        raise ConfigError(f"Cannot read config file ({path}): {e.strerror}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a YAML map", path=path)
    return data


def load(path: str | None, overrides: Iterable[str] = ()) -> Config:
    """Read ``path`` (or nothing: embedded defaults) and apply ``overrides``."""
    raw = read_yaml(path) if path else {}
    cfg = build(raw, path=path, overrides=overrides)
    return cfg


DEFAULT_CONFIG_PATHS = ("/etc/falco/falco.yaml",)


def default_config_path() -> str | None:
    """Falco looks for /etc/falco/falco.yaml; pyfalco then falls back to its packaged copy."""
    for p in DEFAULT_CONFIG_PATHS:
        if os.path.exists(p):
            return p
    return packaged_config_path()


def packaged_config_path() -> str | None:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "falco.yaml")
    return here if os.path.exists(here) else None
