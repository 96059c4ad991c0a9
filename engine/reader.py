"""The reader: YAML text -> validated items handed to the :class:`Collector`.

Mirrors Falco's ``rule_loader::reader``.  PyYAML's *composed* node tree is used rather than
plain Python objects because every node keeps its start mark (line, column, offset), which is
what error locations are made of.  Scalars are taken as written (``node.value``), the way
yaml-cpp's ``as<std::string>()`` does, so ``items: [1, yes]`` are the strings ``"1"`` and
``"yes"``.  The first error in a file stops reading that file, as in Falco.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from engine.collector import (
    Collector,
    ExceptionEntry,
    ExceptionInfo,
    ListInfo,
    MacroInfo,
    RuleInfo,
    RuleUpdate,
)
from engine.errors import ItemError
from engine.load_result import Context, ErrorCode, ItemType, WarningCode
from engine.priority import Priority

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["ENGINE_VERSION", "read_rules"]

# The Falco engine version whose rules language we implement (upstream rules ask for it).
ENGINE_VERSION = (0, 57, 0)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

RGX_IDENTIFIER = "([a-zA-Z]+[a-zA-Z0-9_]*)"
RGX_BARESTR = "([^()\"'[:space:]=,]+)"
_RE_IDENTIFIER = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_RE_BARESTR = re.compile(r"[^()\"'\s=,]+")
_RE_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)")

WARNING_APPEND = ("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') "
                  "under 'override' instead.")
WARNING_ENABLED = ("The standalone 'enabled' key usage is deprecated. The correct approach "
                   "requires also a 'replace' entry under the 'override' key (i.e. 'enabled: "
                   "replace').")
ERROR_OVERRIDE_APPEND = ("Keys 'override' and 'append: true' cannot be used together. Add an "
                         "'append' entry (e.g. 'condition: append') under 'override' instead.")

_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})

_RULE_KEYS = frozenset({"rule", "desc", "condition", "output", "priority", "source", "enabled",
                        "tags", "exceptions", "append", "override", "warn_evttypes",
                        "skip-if-unknown-filter", "capture", "capture_duration"})
_MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
_LIST_KEYS = frozenset({"list", "items", "append", "override"})
_RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
_RULE_REPLACEABLE = ("condition", "output", "desc", "priority", "tags", "exceptions", "enabled",
                     "warn_evttypes", "skip-if-unknown-filter")

Warn = "Callable[[WarningCode, str, Context], None]"


def _validate_error(msg: str, ctx: Context) -> ItemError:
    return ItemError(ErrorCode.LOAD_ERR_YAML_VALIDATE, msg, ctx)


def _check_name(name: str, regex: re.Pattern[str], rgx: str, kind: str, ctx: Context) -> None:
    """Falco's check of a list's or macro's name (`rgx` is the regex as Falco prints it)."""
    if regex.fullmatch(name) is None:
        raise _validate_error(f"{kind} has an invalid name. {kind} names must match a regular "
                              "expression: " + rgx, ctx)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


class _Map:
    """A YAML mapping node viewed as key -> value node (first occurrence wins)."""

    __slots__ = ("keys", "node", "values")

    def __init__(self, node: yaml.MappingNode) -> None:
        self.node = node
        self.values: dict[str, yaml.Node] = {}
        self.keys: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            if key not in self.values:
                self.values[key] = v
                self.keys[key] = k

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> yaml.Node | None:
        return self.values.get(key)


def _key_ctx(m: _Map, key: str, itype: ItemType, ctx: Context) -> Context:
    """The context of a key's value (a condition, an output), located at the value if given."""
    node = m.get(key)
    return ctx.child(itype, "", node.start_mark if node else None)


def _mappings(node: yaml.Node, ctx: Context, itype: ItemType, seq_error: str,
              map_error: str) -> Iterator[tuple[_Map, Context]]:
    """The entries of a sequence of mappings, each with its still unnamed context (`itype` at
    the entry); `seq_error` (at `ctx`) if `node` is not a sequence, `map_error` at an entry
    that is not a mapping."""
    if not isinstance(node, yaml.SequenceNode):
        raise _validate_error(seq_error, ctx)
    for entry in node.value:
        ectx = ctx.child(itype, "", entry.start_mark)
        if not isinstance(entry, yaml.MappingNode):
            raise _validate_error(map_error, ectx)
        yield _Map(entry), ectx


def _decode_scalar(m: _Map, key: str, ctx: Context, kind: str = "str",
                   optional: bool = False) -> Any:
    """Falco's decode_val: the key must exist, be a non-empty scalar and convert."""
    val = m.get(key)
    if val is None:
        if optional:
            return None
        raise _validate_error(f"Item has no mapping for key '{key}'", ctx)
    if _is_null(val):
        raise _validate_error(f"Mapping for key '{key}' is empty", ctx)
    vctx = ctx.child(ItemType.VALUE_FOR, key, val.start_mark)
    if not isinstance(val, yaml.ScalarNode):
        raise _validate_error("Value is not a scalar value", vctx)
    text: str = val.value
    if text == "":
        raise _validate_error("Value must be non-empty", vctx)
    if kind == "bool":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _validate_error("Can't decode YAML scalar value", vctx)
    if kind == "uint":
        if not text.isdigit():
            raise _validate_error("Can't decode YAML scalar value", vctx)
        return int(text)
    return text


def _decode_seq(m: _Map, key: str, ctx: Context, optional: bool) -> list[str] | None:
    val = m.get(key)
    if val is None:
        if optional:
            return None
        raise _validate_error(f"Item has no mapping for key '{key}'", ctx)
    vctx = ctx.child(ItemType.VALUE_FOR, key, val.start_mark)
    if _is_null(val) and optional:
        return []
    if not isinstance(val, yaml.SequenceNode):
        raise _validate_error("Value is not a sequence", vctx)
    out = []
    for v in val.value:
        ictx = vctx.child(ItemType.LIST_ITEM, "", v.start_mark)
        if not isinstance(v, yaml.ScalarNode):
            raise _validate_error("sequence value is not scalar", ictx)
        out.append(v.value)
    return out


def _decode_overrides(m: _Map, appendable: set[str], replaceable: set[str],
                      ctx: Context) -> tuple[set[str], set[str]]:
    val = m.get("override")
    if val is None:
        return set(), set()
    octx = ctx.child(ItemType.OVERRIDE, "", m.node.start_mark)
    if not isinstance(val, yaml.MappingNode):
        raise _validate_error("Value is not a mapping", octx)
    app, rep = set(), set()
    for k, v in val.value:
        key = str(k.value)
        op = str(v.value) if isinstance(v, yaml.ScalarNode) else ""
        kctx = octx.child(ItemType.OVERRIDE, key, k.start_mark)
        if op == "append":
            if key not in appendable:
                raise _validate_error(f"Key '{key}' cannot be appended to, use 'replace' instead",
                                      kctx)
            app.add(key)
        elif op == "replace":
            if key not in replaceable:
                raise _validate_error(f"Key '{key}' cannot be replaced", kctx)
            rep.add(key)
        else:
            allowed = ("append " if key in appendable else "") + \
                      ("replace " if key in replaceable else "")
            raise _validate_error(f"Invalid override operation for key '{key}': '{op}'. "
                                  f"Allowed values are: {allowed}",
                                  octx.child(ItemType.VALUE_FOR, key, v.start_mark))
    return app, rep


def _decode_entry(node: yaml.Node | None, key: str | None, ctx: Context,
                  optional: bool) -> ExceptionEntry:
    out = ExceptionEntry()
    if node is None:
        if optional:
            return out
        raise _validate_error(f"Item has no mapping for key '{key}'", ctx)
    vctx = ctx.child(ItemType.VALUE_FOR, key or "", node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        if node.value == "":
            raise _validate_error("Value must be non-empty", vctx)
        out.is_list = False
        out.item = node.value
    elif isinstance(node, yaml.SequenceNode):
        out.is_list = True
        for v in node.value:
            lctx = vctx.child(ItemType.EXCEPTION, "", v.start_mark)
            out.items.append(_decode_entry(v, None, lctx, False))
    return out


class _Reader:
    def __init__(self, collector: Collector, warn: Callable[[WarningCode, str, Context], None],
                 source_known: Callable[[str], bool]) -> None:
        self.col = collector
        self.warn = warn
        self.source_known = source_known

    # -- exceptions -----------------------------------------------------------------

    def exceptions(self, m: _Map, parent: Context, append: bool) -> list[ExceptionInfo] | None:
        exs = m.get("exceptions")
        if exs is None or _is_null(exs):
            return None
        ectx = parent.child(ItemType.EXCEPTIONS, "", exs.start_mark)
        out: list[ExceptionInfo] = []
        for em, tmp in _mappings(exs, ectx, ItemType.EXCEPTION,
                                 "Rule exceptions must be a sequence",
                                 "Rule exception must be a mapping"):
            name = _decode_scalar(em, "name", tmp)
            xctx = parent.child(ItemType.EXCEPTION, name, em.node.start_mark)
            if any(e.name == name for e in out):
                raise _validate_error("Exceptions names in the same object must be unique", xctx)
            info = ExceptionInfo(xctx, name)
            info.fields = _decode_entry(em.get("fields"), "fields", xctx, append)
            info.comps = _decode_entry(em.get("comps"), "comps", xctx, True)
            vals = em.get("values")
            if vals is not None:
                vsctx = xctx.child(ItemType.EXCEPTION_VALUES, "", vals.start_mark)
                if not isinstance(vals, yaml.SequenceNode):
                    raise _validate_error("Rule exception values must be a sequence", vsctx)
                for v in vals.value:
                    vctx = vsctx.child(ItemType.EXCEPTION_VALUE, "", v.start_mark)
                    info.values.append(_decode_entry(v, None, vctx, False))
            elif append:
                self.warn(WarningCode.LOAD_APPEND_NO_VALUES,
                          "Overriding/appending exception with no values", xctx)
            out.append(info)
        return out

    # -- items ----------------------------------------------------------------------

    def unknown_keys(self, m: _Map, known: frozenset[str], ctx: Context) -> None:
        for key, knode in m.keys.items():
            if key not in known:
                self.warn(WarningCode.LOAD_UNKNOWN_KEY, f"Unknown key '{key}'. The key will be "
                          "ignored.", ctx.child(ItemType.VALUE_FOR, key, knode.start_mark))

    def item(self, node: yaml.Node, parent: Context) -> None:
        if not isinstance(node, yaml.MappingNode):
            raise _validate_error("Unexpected element type. Each element should be a yaml "
                                  "associative array.",
                                  parent.child(ItemType.RULES_CONTENT_ITEM, "", node.start_mark))
        m = _Map(node)
        mark = node.start_mark
        if "required_engine_version" in m:
            self.engine_version(m, parent.child(ItemType.REQUIRED_ENGINE_VERSION, "", mark))
        elif "required_plugin_versions" in m:
            self.plugin_versions(m, parent)
        elif "list" in m:
            self.list_item(m, parent)
        elif "macro" in m:
            self.macro_item(m, parent)
        elif "rule" in m:
            self.rule_item(m, parent)
        else:
            self.warn(WarningCode.LOAD_UNKNOWN_ITEM, "Unknown top level item",
                      parent.child(ItemType.RULES_CONTENT_ITEM, "", mark))

    def engine_version(self, m: _Map, ctx: Context) -> None:
        text = _decode_scalar(m, "required_engine_version", ctx)
        if text.isdigit():
            ver = (0, int(text), 0)
        else:
            mm = _RE_SEMVER.fullmatch(text)
            if mm is None:
                raise _validate_error(f"Unable to parse engine version '{text}' as a semver "
                                      "string. Expected \"x.y.z\" semver format.", ctx)
            ver = (int(mm[1]), int(mm[2]), int(mm[3]))
        if ver[0] != ENGINE_VERSION[0] or ver > ENGINE_VERSION:
            have = ".".join(map(str, ENGINE_VERSION))
            raise ItemError(ErrorCode.LOAD_ERR_VALIDATE,
                            f"Rules require engine version {'.'.join(map(str, ver))}, but engine "
                            f"version is {have}", ctx)
        self.col.required_engine_version = max(self.col.required_engine_version, ver)

    def plugin_versions(self, m: _Map, parent: Context) -> None:
        node = m.get("required_plugin_versions")
        assert node is not None
        ctx = parent.child(ItemType.REQUIRED_PLUGIN_VERSIONS, "", node.start_mark)
        for pm, tmp in _mappings(node, ctx, ItemType.REQUIRED_PLUGIN_VERSIONS_ENTRY,
                                 "Value of required_plugin_versions must be a sequence",
                                 "Plugin version must be a mapping"):
            name = _decode_scalar(pm, "name", tmp)
            pctx = ctx.child(ItemType.REQUIRED_PLUGIN_VERSIONS_ENTRY, name, pm.node.start_mark)
            alts = [(name, _decode_scalar(pm, "version", pctx))]
            altn = pm.get("alternatives")
            if altn is not None:
                alt = ItemType.REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE
                for am, actx in _mappings(altn, pctx, alt, "Value of plugin version alternatives "
                                          "must be a sequence",
                                          "Plugin version alternative must be a mapping"):
                    aname = _decode_scalar(am, "name", actx)
                    actx = pctx.child(alt, aname, am.node.start_mark)
                    alts.append((aname, _decode_scalar(am, "version", actx)))
            seen: set[str] = set()
            for n, v in alts:
                if _RE_SEMVER.fullmatch(v) is None:
                    raise ItemError(ErrorCode.LOAD_ERR_VALIDATE,
                                    f"Invalid required version '{v}' for plugin '{n}'", pctx)
                if n in seen:
                    raise ItemError(ErrorCode.LOAD_ERR_VALIDATE, "Defined multiple alternative "
                                    f"version requirements for plugin '{n}'", pctx)
                seen.add(n)
            self.col.required_plugin_versions.append(alts)

    def list_item(self, m: _Map, parent: Context) -> None:
        name, ctx = self._named(m, parent, "list", ItemType.LIST)
        _check_name(name, _RE_BARESTR, RGX_BARESTR, "List", ctx)
        self.unknown_keys(m, _LIST_KEYS, ctx)
        items = _decode_seq(m, "items", ctx, optional=False) or []
        append, app, _rep = self._override_mode(m, {"items"}, {"items"}, ctx)
        info = ListInfo(ctx, name, items)
        if append or "items" in app:
            self.col.append_list(info)
        else:
            self.col.define_list(info)

    def macro_item(self, m: _Map, parent: Context) -> None:
        name, ctx = self._named(m, parent, "macro", ItemType.MACRO)
        _check_name(name, _RE_IDENTIFIER, RGX_IDENTIFIER, "Macro", ctx)
        self.unknown_keys(m, _MACRO_KEYS, ctx)
        cond = _decode_scalar(m, "condition", ctx)
        cond_ctx = _key_ctx(m, "condition", ItemType.MACRO_CONDITION, ctx)
        append, app, _rep = self._override_mode(m, {"condition"}, {"condition"}, ctx)
        info = MacroInfo(ctx, cond_ctx, name, cond)
        if append or "condition" in app:
            self.col.append_macro(info)
        else:
            self.col.define_macro(info)

    @staticmethod
    def _named(m: _Map, parent: Context, key: str, itype: ItemType) -> tuple[str, Context]:
        """An item's name (the value of `key`: "list", "macro", "rule") and its context; an
        error decoding the name is located at an unnamed item of that kind."""
        mark = m.node.start_mark
        name = _decode_scalar(m, key, parent.child(itype, "", mark))
        return name, parent.child(itype, name, mark)

    def _override_mode(self, m: _Map, appendable: set[str], replaceable: set[str],
                       ctx: Context) -> tuple[bool, set[str], set[str]]:
        """(`append: true` given, keys overridden by append, keys overridden by replace);
        the two ways of appending cannot be mixed."""
        append = self.append_flag(m, ctx)
        app, rep = _decode_overrides(m, appendable, replaceable, ctx)
        if append and (app or rep):
            raise _validate_error(ERROR_OVERRIDE_APPEND, ctx)
        return append, app, rep

    def append_flag(self, m: _Map, ctx: Context) -> bool:
        append = bool(_decode_scalar(m, "append", ctx, "bool", optional=True))
        if append:
            self.warn(WarningCode.LOAD_DEPRECATED_ITEM, WARNING_APPEND, ctx)
        return append

    def _priority(self, m: _Map, ctx: Context) -> Priority:
        text = _decode_scalar(m, "priority", ctx)
        pri = Priority.parse(text)
        if pri is None:
            pnode = m.get("priority")
            raise _validate_error("Invalid priority", ctx.child(
                ItemType.RULE_PRIORITY, "", pnode.start_mark if pnode else None))
        return pri

    def _update(self, m: _Map, ctx: Context, name: str, keys: set[str]) -> RuleUpdate:
        upd = RuleUpdate(ctx, name)
        if "condition" in keys:
            upd.cond = _decode_scalar(m, "condition", ctx)
            upd.cond_ctx = _key_ctx(m, "condition", ItemType.RULE_CONDITION, ctx)
        if "exceptions" in keys:
            upd.exceptions = self.exceptions(m, ctx, True) or []
        if "output" in keys:
            upd.output = _decode_scalar(m, "output", ctx)
        if "desc" in keys:
            upd.desc = _decode_scalar(m, "desc", ctx)
        if "tags" in keys:
            upd.tags = _decode_seq(m, "tags", ctx, optional=True) or []
        if "priority" in keys:
            upd.priority = self._priority(m, ctx)
        if "enabled" in keys:
            upd.enabled = _decode_scalar(m, "enabled", ctx, "bool")
        if "warn_evttypes" in keys:
            upd.warn_evttypes = _decode_scalar(m, "warn_evttypes", ctx, "bool")
        if "skip-if-unknown-filter" in keys:
            upd.skip_if_unknown_filter = _decode_scalar(m, "skip-if-unknown-filter", ctx, "bool")
        return upd

    def rule_item(self, m: _Map, parent: Context) -> None:
        name, ctx = self._named(m, parent, "rule", ItemType.RULE)
        self.unknown_keys(m, _RULE_KEYS, ctx)
        append, app, rep = self._override_mode(m, set(_RULE_APPENDABLE), set(_RULE_REPLACEABLE),
                                               ctx)
        if app or rep:
            expected = {k for k in (*_RULE_APPENDABLE, *_RULE_REPLACEABLE) if k in m}
            for kind, keys in (("append", app), ("replace", rep)):
                for k in keys:
                    if k not in expected:
                        raise _validate_error(f"An {kind} override for '{k}' was specified but "
                                              f"'{k}' is not defined", ctx)
                    expected.discard(k)
            if app:
                self.col.append_rule(self._update(m, ctx, name, app))
            if rep:
                self.col.replace_rule(self._update(m, ctx, name, rep))
            for k in sorted(expected):
                node = m.get(k)
                raise _validate_error(f"Unexpected key '{k}': no corresponding entry under "
                                      "'override' is defined.",
                                      ctx.child(ItemType.OVERRIDE, k,
                                                node.start_mark if node else None))
            return
        if append:
            keys = {k for k in ("condition", "exceptions") if k in m}
            self.col.append_rule(self._update(m, ctx, name, keys))
            return
        if not any(k in m for k in ("condition", "output", "desc", "priority")):
            enabled = _decode_scalar(m, "enabled", ctx, "bool")
            self.warn(WarningCode.LOAD_DEPRECATED_ITEM, WARNING_ENABLED, ctx)
            self.col.enable_rule(name, enabled, ctx)
            return
        cond = _decode_scalar(m, "condition", ctx)
        cond_ctx = _key_ctx(m, "condition", ItemType.RULE_CONDITION, ctx)
        output = _decode_scalar(m, "output", ctx)
        output_ctx = _key_ctx(m, "output", ItemType.RULE_OUTPUT, ctx)
        desc = _decode_scalar(m, "desc", ctx)
        info = RuleInfo(ctx, cond_ctx, output_ctx, name, cond, output.strip(), desc)
        info.priority = self._priority(m, ctx)
        info.source = _decode_scalar(m, "source", ctx, optional=True) or "syscall"
        enabled = _decode_scalar(m, "enabled", ctx, "bool", optional=True)
        info.enabled = True if enabled is None else enabled
        we = _decode_scalar(m, "warn_evttypes", ctx, "bool", optional=True)
        info.warn_evttypes = True if we is None else we
        sk = _decode_scalar(m, "skip-if-unknown-filter", ctx, "bool", optional=True)
        info.skip_if_unknown_filter = bool(sk)
        tags = _decode_seq(m, "tags", ctx, optional=True) or []
        info.tags = sorted(set(tags))
        info.exceptions = self.exceptions(m, ctx, False) or []
        self.col.define_rule(info)


def read_rules(content: str, name: str, collector: Collector,
               warn: Callable[[WarningCode, str, Context], None],
               error: Callable[[ErrorCode, str, Context], None]) -> bool:
    """Read one rules file into the collector.  Returns False after the first error."""
    root = Context.root(name)
    try:
        docs = list(yaml.compose_all(content, Loader=_Loader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = " ".join(p for p in (e.context, e.problem) if p) or str(e)
        if mark is not None:
            msg += f" at line {mark.line + 1}, column {mark.column + 1}"
        error(ErrorCode.LOAD_ERR_YAML_PARSE, msg, root.child(ItemType.VALUE_FOR, "", mark))
        return False
    except yaml.YAMLError as e:
        error(ErrorCode.LOAD_ERR_YAML_PARSE, str(e), root)
        return False
    reader = _Reader(collector, warn, lambda s: True)
    for doc in docs:
        if doc is None or _is_null(doc):
            continue
        try:
            if not isinstance(doc, (yaml.MappingNode, yaml.SequenceNode)):
                raise _validate_error("Rules content is not yaml", root)
            if not isinstance(doc, yaml.SequenceNode):
                raise _validate_error("Rules content is not yaml array of objects", root)
            for node in doc.value:
                if not _is_null(node):
                    reader.item(node, root)
        except ItemError as e:
            error(e.code, e.message, e.context)
            return False
    return True
