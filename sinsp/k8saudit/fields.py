"""The ``k8s_audit`` source's fields: ``ka.*`` (k8saudit plugin), ``json.*``/``jevt.*`` (json
plugin) and the few generic ``evt.*`` fields every plugin source has.

Semantics follow the plugins' extractors (falcosecurity/plugins ``k8saudit/pkg/k8saudit`` and
``json/pkg/json``), written here from their documented behaviour:

* every value is a string (the plugins declare all fields ``string``); a JSON value that is
  not a string shows as its compact JSON text (``true``, ``8080``, ``{"a":1}``);
* ``ka.*`` fields are N/A on JSON that has no ``auditID`` (not an audit event);
* list fields walk arrays on the way (``requestObject.spec.containers[].image``); with an index
  argument (``ka.req.pod.containers.image[0]``) only that element of each array is taken,
  and the result is still a list. A container that lacks the value is skipped; no container
  array at all means N/A. An empty result is N/A too (libsinsp treats a plugin field that
  returned no value as not extracted);
* ``jevt.value[/json/pointer]`` follows RFC 6901 (``~1`` is ``/``, ``~0`` is ``~``; array
  elements by index).

Deliberate differences from the Go code, where it contradicts its own field description:
``ka.sourceips`` reads the top-level ``sourceIPs`` (the plugin looks under ``requestObject.rules``),
``ka.req.service.ports`` is one JSON text per port (the plugin gives the whole array as one),
and ``ka.req.pod.containers.eff_run_as_user/group`` read the pod's and containers'
``securityContext`` (the plugin reads ``spec.runAsUser`` and ``containers[].runAsUser``, which
Kubernetes does not have).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sinsp.fields.registry import (
    ArgKind,
    FieldClassBuilder,
    FieldFlag,
    FieldInfo,
    FieldRegistry,
    FieldType,
    get_registry,
)
from sinsp.k8saudit.event import SOURCE, dumps_compact

__all__ = ["REGISTRY", "json_pointer", "to_text"]

CHARBUF = FieldType.CHARBUF
LIST = FieldFlag.IS_LIST
_MISSING = object()


class _NotAvailableError(Exception):
    """Internal: the value is not in this event (the plugin's ErrExtractNotAvailable)."""


# -- JSON helpers ------------------------------------------------------------------------


def to_text(v: Any) -> str:
    """A JSON value as the plugins render it: strings as they are, the rest as compact JSON."""
    return v if isinstance(v, str) else dumps_compact(v)


def _child(v: Any, key: str) -> Any:
    """One step down: an object member, or an array element when the key is an index."""
    if isinstance(v, dict):
        return v.get(key, _MISSING)
    if isinstance(v, list) and key.isdigit():
        i = int(key)
        return v[i] if i < len(v) else _MISSING
    return _MISSING


def _get(v: Any, *keys: str) -> Any:
    for k in keys:
        v = _child(v, k)
        if v is _MISSING:
            return _MISSING
    return v


def json_pointer(doc: Any, pointer: str) -> Any:
    """RFC 6901 lookup as the json plugin does it (a leading ``/`` is optional); the value or
    ``_MISSING``."""
    if pointer.startswith("/"):
        pointer = pointer[1:]
    v = doc
    for tok in pointer.split("/"):
        v = _child(v, tok.replace("~1", "/").replace("~0", "~"))
        if v is _MISSING:
            return _MISSING
    return v


def _values(v: Any, index: int | None, keys: tuple[str, ...]) -> list[Any]:
    """All values at ``keys``, fanning out over arrays met on the way (one element of each
    when ``index`` is given). Elements lacking the value contribute ``_MISSING``; raises
    :class:`_NotAvailableError` when the path is missing above any array."""
    for i, k in enumerate(keys):
        if isinstance(v, list):
            if index is None:
                out: list[Any] = []
                for item in v:
                    try:
                        out.extend(_values(item, None, keys[i:]))
                    except _NotAvailableError:
                        out.append(_MISSING)
                return out
            if index < 0 or index >= len(v):
                raise _NotAvailableError
            v = v[index]
        if k:
            v = _child(v, k)
            if v is _MISSING:
                raise _NotAvailableError
    return [v]


def _texts(values: list[Any]) -> list[str] | None:
    out = [to_text(v) for v in values if v is not _MISSING]
    return out or None


# -- the registry ------------------------------------------------------------------------

REGISTRY: FieldRegistry = get_registry(SOURCE)


def _audit(fn: Callable[[dict[str, Any], Any], Any]) -> Callable[[Any, Any], Any]:
    """Wrap an extractor on the event's JSON: N/A unless it is an audit event (has
    ``auditID``), and N/A when the path is missing."""

    def extract(evt: Any, arg: Any) -> Any:
        data = evt.data
        if not isinstance(data, dict) or "auditID" not in data:
            return None
        try:
            return fn(data, arg)
        except _NotAvailableError:
            return None

    extract.__name__ = fn.__name__
    extract.__doc__ = fn.__doc__
    return extract


ka = FieldClassBuilder(
    "k8saudit",
    "Kubernetes Audit Events (the ka.* fields of Falco's k8saudit plugin).",
    source=SOURCE,
)


def _add(builder: FieldClassBuilder, name: str, desc: str, extractor: Callable[[Any, Any], Any],
         flags: FieldFlag = FieldFlag.NONE, arg: ArgKind = ArgKind.NONE,
         display: str = "") -> None:
    builder.add(FieldInfo(name, CHARBUF, desc, extractor, arg, flags, display))


def _path(name: str, desc: str, *keys: str, is_list: bool = False) -> None:
    """A field that is the value at a fixed path (the plugin's ``extractFromKeys``).

    These are the fields every rule tests (verb, stage, resource, user), so the extractor is
    one flat closure: no wrapper call, dict lookups inline, arrays only on the slow path.
    """
    first, rest = keys[0], keys[1:]

    def extract(evt: Any, arg: Any) -> Any:
        d = evt.data
        if type(d) is not dict or "auditID" not in d:
            return None
        v = d.get(first, _MISSING)
        for k in rest:
            if type(v) is dict:
                v = v.get(k, _MISSING)
            else:
                v = _child(v, k) if v is not _MISSING else _MISSING
            if v is _MISSING:
                return None
        if v is _MISSING:
            return None
        if is_list:
            if type(v) is not list:
                return None  # wrong type: not extracted
            return [x if type(x) is str else dumps_compact(x) for x in v] or None
        return v if type(v) is str else dumps_compact(v)

    _add(ka, name, desc, extract, LIST if is_list else FieldFlag.NONE)


def _fanout(name: str, desc: str, *keys: str) -> None:
    """A list field collected over arrays (containers, volumes, ports, rules), optional
    index argument; elements lacking the value are skipped."""

    def fn(data: dict[str, Any], arg: Any) -> Any:
        return _texts(_values(data, arg, keys))

    _add(ka, name, desc, _audit(fn), LIST, ArgKind.INDEX, name + "[N]")


def _custom(name: str, desc: str, flags: FieldFlag = FieldFlag.NONE,
            arg: ArgKind = ArgKind.NONE, display: str = ""
            ) -> Callable[[Callable[[dict[str, Any], Any], Any]], Callable[..., Any]]:
    def deco(fn: Callable[[dict[str, Any], Any], Any]) -> Callable[..., Any]:
        _add(ka, name, desc, _audit(fn), flags, arg, display)
        return fn

    return deco


REQ_SPEC = ("requestObject", "spec")
CONTAINERS = (*REQ_SPEC, "containers")
VOLUMES = (*REQ_SPEC, "volumes")
SECCTX = "securityContext"

_path("ka.auditid", "The unique id of the audit event", "auditID")
_path("ka.stage", "Stage of the request (e.g. RequestReceived, ResponseComplete, etc.)", "stage")
_path("ka.auth.decision", "The authorization decision",
      "annotations", "authorization.k8s.io/decision")
_path("ka.auth.reason", "The authorization reason", "annotations", "authorization.k8s.io/reason")
_path("ka.user.name", "The user name performing the request", "user", "username")
_path("ka.user.groups", "The groups to which the user belongs", "user", "groups", is_list=True)
_path("ka.impuser.name", "The impersonated user name", "impersonatedUser", "username")
_path("ka.verb", "The action being performed", "verb")
_path("ka.uri", "The request URI as sent from client to server", "requestURI")


@_custom("ka.uri.param", "The value of a given query parameter in the uri (e.g. when "
         "uri=/foo?key=val, ka.uri.param[key] is val).", arg=ArgKind.REQUIRED,
         display="ka.uri.param[key]")
def _uri_param(data: dict[str, Any], arg: Any) -> Any:
    uri = data.get("requestURI")
    if uri is None:
        return None
    try:
        query = parse_qs(urlsplit(to_text(uri)).query, keep_blank_values=True,
                         strict_parsing=False)
    except ValueError:
        return None
    vals = query.get(arg)
    return vals[0] if vals else None


_path("ka.target.name", "The target object name", "objectRef", "name")
_path("ka.target.namespace", "The target object namespace", "objectRef", "namespace")
_path("ka.target.resource", "The target object resource", "objectRef", "resource")
_path("ka.target.subresource", "The target object subresource", "objectRef", "subresource")
_path("ka.req.binding.subjects", "When the request object refers to a cluster role binding, the "
      "subject (e.g. account/users) being linked by the binding",
      "requestObject", "subjects", is_list=True)
_path("ka.req.binding.role", "When the request object refers to a cluster role binding, the "
      "role being linked by the binding", "requestObject", "roleRef", "name")


@_custom("ka.req.binding.subject.has_name", 'Deprecated, always returns "N/A". Only provided '
         "for backwards compatibility", arg=ArgKind.REQUIRED,
         display="ka.req.binding.subject.has_name[name]")
def _binding_subject_has_name(data: dict[str, Any], arg: Any) -> Any:
    # documented as N/A, but the plugin (like the original C++ k8s_audit) answers "true"
    return "true"


_path("ka.req.configmap.name", "If the request object refers to a configmap, the configmap name",
      "objectRef", "name")
_path("ka.req.configmap.obj", "If the request object refers to a configmap, the entire configmap "
      "object", "requestObject", "data")


def _images(data: dict[str, Any], index: int | None) -> list[str]:
    vals = _values(data, index, (*CONTAINERS, "image"))
    if any(v is _MISSING for v in vals):
        raise _NotAvailableError  # a container without image: the plugin fails the extraction
    return [to_text(v) for v in vals]


def _repository(image: str) -> str:
    return image.split(":", 1)[0].split("@", 1)[0]


@_custom("ka.req.pod.containers.image", "When the request object refers to a pod, the "
         "container's images.", LIST, ArgKind.INDEX, "ka.req.pod.containers.image[N]")
def _pod_images(data: dict[str, Any], arg: Any) -> Any:
    return _images(data, arg) or None


@_custom("ka.req.container.image", "Deprecated by ka.req.pod.containers.image. Returns the image "
         "of the first container only")
def _container_image(data: dict[str, Any], arg: Any) -> Any:
    imgs = _images(data, 0)
    return imgs[0] if imgs else None


@_custom("ka.req.pod.containers.image.repository", "The same as req.container.image, but only "
         "the repository part (e.g. falcosecurity/falco).", LIST, ArgKind.INDEX,
         "ka.req.pod.containers.image.repository[N]")
def _pod_repos(data: dict[str, Any], arg: Any) -> Any:
    return [_repository(i) for i in _images(data, arg)] or None


@_custom("ka.req.container.image.repository", "Deprecated by "
         "ka.req.pod.containers.image.repository. Returns the repository of the first container "
         "only")
def _container_repo(data: dict[str, Any], arg: Any) -> Any:
    imgs = _images(data, 0)
    return _repository(imgs[0]) if imgs else None


_path("ka.req.pod.host_ipc", "When the request object refers to a pod, the value of the hostIPC "
      "flag.", *REQ_SPEC, "hostIPC")
_path("ka.req.pod.host_network", "When the request object refers to a pod, the value of the "
      "hostNetwork flag.", *REQ_SPEC, "hostNetwork")
_path("ka.req.container.host_network", "Deprecated alias for ka.req.pod.host_network",
      *REQ_SPEC, "hostNetwork")
_path("ka.req.pod.host_pid", "When the request object refers to a pod, the value of the hostPID "
      "flag.", *REQ_SPEC, "hostPID")


@_custom("ka.req.pod.containers.host_port", "When the request object refers to a pod, all "
         "container's hostPort values.", LIST, ArgKind.INDEX,
         "ka.req.pod.containers.host_port[N]")
def _host_ports(data: dict[str, Any], arg: Any) -> Any:
    out: list[str] = []
    for ports in _values(data, arg, (*CONTAINERS, "ports")):
        if ports is _MISSING:
            continue
        if not isinstance(ports, list):
            raise _NotAvailableError
        for port in ports:
            # with hostNetwork the containerPort is the host port
            p = _get(port, "hostPort")
            if p is _MISSING:
                p = _get(port, "containerPort")
            if p is not _MISSING:
                out.append(to_text(p))
    return out or None


_fanout("ka.req.pod.containers.privileged", "When the request object refers to a pod, the value "
        "of the privileged flag for all containers.", *CONTAINERS, SECCTX, "privileged")


@_custom("ka.req.container.privileged", "Deprecated by ka.req.pod.containers.privileged. "
         "Returns true if any container has privileged=true")
def _any_privileged(data: dict[str, Any], arg: Any) -> Any:
    vals = _values(data, None, (*CONTAINERS, SECCTX, "privileged"))
    return "true" if any(v is True for v in vals) else "false"


_fanout("ka.req.pod.containers.allow_privilege_escalation", "When the request object refers to a "
        "pod, the value of the allowPrivilegeEscalation flag for all containers",
        *CONTAINERS, SECCTX, "allowPrivilegeEscalation")
_fanout("ka.req.pod.containers.read_only_fs", "When the request object refers to a pod, the value "
        "of the readOnlyRootFilesystem flag for all containers",
        *CONTAINERS, SECCTX, "readOnlyRootFilesystem")
_path("ka.req.pod.run_as_user", "When the request object refers to a pod, the runAsUser uid "
      "specified in the security context for the pod. See ....containers.run_as_user for the "
      "runAsUser for individual containers", *REQ_SPEC, SECCTX, "runAsUser")
_fanout("ka.req.pod.containers.run_as_user", "When the request object refers to a pod, the "
        "runAsUser uid for all containers", *CONTAINERS, SECCTX, "runAsUser")


def _effective(key: str) -> Callable[[dict[str, Any], Any], Any]:
    """Per container: its own securityContext value, else the pod's, else 0."""

    def fn(data: dict[str, Any], arg: Any) -> Any:
        pod = _get(data, *REQ_SPEC, SECCTX, key)
        default = "0" if pod is _MISSING else to_text(pod)
        conts = _get(data, *CONTAINERS)
        if not isinstance(conts, list):
            raise _NotAvailableError
        if arg is not None:
            if not 0 <= arg < len(conts):
                raise _NotAvailableError
            conts = [conts[arg]]
        out = []
        for c in conts:
            v = _get(c, SECCTX, key)
            out.append(default if v is _MISSING else to_text(v))
        return out or None

    return fn


_add(ka, "ka.req.pod.containers.eff_run_as_user", "When the request object refers to a pod, the "
     "initial uid that will be used for all containers. This combines information from both the "
     "pod and container security contexts and uses 0 if no uid is specified",
     _audit(_effective("runAsUser")), LIST, ArgKind.INDEX,
     "ka.req.pod.containers.eff_run_as_user[N]")
_path("ka.req.pod.run_as_group", "When the request object refers to a pod, the runAsGroup gid "
      "specified in the security context for the pod. See ....containers.run_as_group for the "
      "runAsGroup for individual containers", *REQ_SPEC, SECCTX, "runAsGroup")
_fanout("ka.req.pod.containers.run_as_group", "When the request object refers to a pod, the "
        "runAsGroup gid for all containers", *CONTAINERS, SECCTX, "runAsGroup")
_add(ka, "ka.req.pod.containers.eff_run_as_group", "When the request object refers to a pod, the "
     "initial gid that will be used for all containers. This combines information from both the "
     "pod and container security contexts and uses 0 if no gid is specified",
     _audit(_effective("runAsGroup")), LIST, ArgKind.INDEX,
     "ka.req.pod.containers.eff_run_as_group[N]")
_fanout("ka.req.pod.containers.proc_mount", "When the request object refers to a pod, the "
        "procMount types for all containers", *CONTAINERS, SECCTX, "procMount")
_path("ka.req.role.rules", "When the request object refers to a role/cluster role, the rules "
      "associated with the role", "requestObject", "rules", is_list=True)


def _rules_field(key: str) -> Callable[[dict[str, Any], Any], Any]:
    """apiGroups/verbs/... of every rule of a role, flattened (``extractRulesField``)."""

    def fn(data: dict[str, Any], arg: Any) -> Any:
        out: list[str] = []
        for v in _values(data, arg, ("requestObject", "rules", key)):
            if isinstance(v, list):
                out.extend(to_text(x) for x in v)
        return out or None

    return fn


for _key, _what in (("apiGroups", "api groups"), ("nonResourceURLs", "non resource urls"),
                    ("verbs", "verbs"), ("resources", "resources")):
    _add(ka, f"ka.req.role.rules.{_key}", "When the request object refers to a role/cluster "
         f"role, the {_what} associated with the role's rules", _audit(_rules_field(_key)),
         LIST, ArgKind.INDEX, f"ka.req.role.rules.{_key}[N]")

_path("ka.req.pod.fs_group", "When the request object refers to a pod, the fsGroup gid specified "
      "by the security context.", *REQ_SPEC, SECCTX, "fsGroup")
_path("ka.req.pod.supplemental_groups", "When the request object refers to a pod, the "
      "supplementalGroup gids specified by the security context.",
      *REQ_SPEC, SECCTX, "supplementalGroups", is_list=True)


@_custom("ka.req.pod.containers.add_capabilities", "When the request object refers to a pod, all "
         "capabilities to add when running the container.", LIST, ArgKind.INDEX,
         "ka.req.pod.containers.add_capabilities[N]")
def _add_caps(data: dict[str, Any], arg: Any) -> Any:
    out: list[str] = []
    for v in _values(data, arg, (*CONTAINERS, SECCTX, "capabilities", "add")):
        if isinstance(v, list):
            out.extend(to_text(x) for x in v)
        elif v is not _MISSING:
            out.append(to_text(v))
    return out or None


_path("ka.req.service.type", "When the request object refers to a service, the service type",
      *REQ_SPEC, "type")
_fanout("ka.req.service.ports", "When the request object refers to a service, the service's "
        "ports", *REQ_SPEC, "ports", "")
_fanout("ka.req.pod.volumes.hostpath", "When the request object refers to a pod, all hostPath "
        "paths specified for all volumes", *VOLUMES, "hostPath", "path")


@_custom("ka.req.volume.hostpath", "Deprecated by ka.req.pod.volumes.hostpath. Return true if the "
         "provided (host) path prefix is used by any volume", arg=ArgKind.REQUIRED,
         display="ka.req.volume.hostpath[path]")
def _volume_hostpath(data: dict[str, Any], arg: Any) -> Any:
    paths = [to_text(v) for v in _values(data, None, (*VOLUMES, "hostPath", "path"))
             if v is not _MISSING]
    prefix = arg[:-1] if arg.endswith("*") else None
    for p in paths:
        if (prefix is not None and p.startswith(prefix)) or p == arg:
            return "true"
    return "false"


_fanout("ka.req.pod.volumes.flexvolume_driver", "When the request object refers to a pod, all "
        "flexvolume drivers specified for all volumes", *VOLUMES, "flexVolume", "driver")


@_custom("ka.req.pod.volumes.volume_type", "When the request object refers to a pod, all volume "
         "types for all volumes", LIST, ArgKind.INDEX, "ka.req.pod.volumes.volume_type[N]")
def _volume_types(data: dict[str, Any], arg: Any) -> Any:
    out: list[str] = []
    for vol in _values(data, arg, (*VOLUMES, "")):
        if isinstance(vol, dict):
            out.extend(k for k in vol if k != "name")
    return out or None


_path("ka.resp.name", "The response object name", "responseObject", "metadata", "name")
_path("ka.response.code", "The response code", "responseStatus", "code")
_path("ka.response.reason", "The response reason (usually present only for failures)",
      "responseStatus", "reason")
_path("ka.useragent", "The useragent of the client who made the request to the apiserver",
      "userAgent")
_fanout("ka.sourceips", "The IP addresses of the client who made the request to the apiserver",
        "sourceIPs", "")


# -- json.* / jevt.* (the json plugin) ----------------------------------------------------

js = FieldClassBuilder(
    "json",
    "Fields of any JSON event (Falco's json plugin); jevt.* are the older names.",
    source=SOURCE,
)


def _json_value(evt: Any, arg: Any) -> Any:
    if not arg:
        return None
    v = json_pointer(evt.data, arg)
    return None if v is _MISSING else to_text(v)


def _json_obj(evt: Any, arg: Any) -> Any:
    return json.dumps(evt.data, ensure_ascii=False, indent=2)


def _rawtime(evt: Any, arg: Any) -> Any:
    return str(evt.ts)


def _time_text(ts: int, iso: bool) -> str:
    secs, ns = divmod(ts, 1_000_000_000)
    tm = time.localtime(secs)
    if iso:
        return time.strftime("%Y-%m-%dT%H:%M:%S", tm) + f".{ns:09d}" + time.strftime("%z", tm)
    return time.strftime("%H:%M:%S", tm) + f".{ns:09d}"


for _prefix, _alias in (("json", ""), ("jevt", " (alias of the json.* field, kept for "
                                                 "backwards compatibility)")):
    _add(js, f"{_prefix}.value", "Extracts a value from a JSON-encoded input. Syntax is "
         f"{_prefix}.value[<json pointer>], where <json pointer> is a json pointer "
         "(see https://datatracker.ietf.org/doc/html/rfc6901)" + _alias, _json_value,
         arg=ArgKind.REQUIRED, display=f"{_prefix}.value[/pointer]")
    _add(js, f"{_prefix}.obj", "The full json message as a text string." + _alias, _json_obj)
    _add(js, f"{_prefix}.rawtime", "The time of the event, identical to evt.rawtime." + _alias,
         _rawtime)
_add(js, "jevt.time", "The time of the event (like evt.time).",
     lambda evt, arg: _time_text(evt.ts, False))
_add(js, "jevt.time.iso8601", "The time of the event in ISO 8601 format (like "
     "evt.time.iso8601).", lambda evt, arg: _time_text(evt.ts, True))


# -- evt.* (generic fields of plugin events) -----------------------------------------------

ev = FieldClassBuilder("evt", "Generic event fields of the k8s_audit source.", source=SOURCE)
ev.add(FieldInfo("evt.num", FieldType.UINT64, "event number", lambda e, a: e.num))
ev.add(FieldInfo("evt.time", CHARBUF, "event timestamp as a time string that includes the "
                 "nanosecond part", lambda e, a: _time_text(e.ts, False)))
ev.add(FieldInfo("evt.time.iso8601", CHARBUF, "event timestamp in ISO 8601 format, including "
                 "nanoseconds and time zone offset", lambda e, a: _time_text(e.ts, True)))
ev.add(FieldInfo("evt.rawtime", FieldType.ABSTIME, "absolute event timestamp, i.e. nanoseconds "
                 "from epoch.", lambda e, a: e.ts))
ev.add(FieldInfo("evt.source", CHARBUF, "the name of the source that produced the event.",
                 lambda e, a: SOURCE))
ev.add(FieldInfo("evt.pluginname", CHARBUF, "if the event comes from a plugin-defined event "
                 "source, the name of the plugin that generated it.",
                 lambda e, a: "k8saudit"))

REGISTRY.register(ka.build())
REGISTRY.register(js.build())
REGISTRY.register(ev.build())
