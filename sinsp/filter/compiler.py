"""AST -> :class:`Filter`: a tree of closures, so evaluating an event walks no AST.

Per-operator semantics follow libsinsp's ``flt_compare`` and ``sinsp_filter_check::compare``:

* **N/A.** If a field cannot be extracted (the extractor returns ``None``), the check is false
  whatever the operator, ``!=`` included: ``proc.name != bash`` is false for an event without a
  thread, while ``not proc.name = bash`` is true. ``exists`` is true iff the value is not N/A.
  A right-hand ``val(field)`` that is N/A also makes the check false.
* **Numbers.** On numeric fields the literal is parsed once at compile time (decimal, ``0x``
  hex, or a float); a literal that is not a number is a :class:`FilterCompileError`. Only
  ``= == != < <= > >= in intersects exists`` apply to numbers.
* **Strings.** ``contains``/``icontains``/``startswith``/``endswith`` are substring tests
  (``icontains`` ignores case); ``bcontains``/``bstartswith`` take a hex string and test bytes;
  ``glob``/``iglob`` use POSIX ``fnmatch`` with no flags (``*`` crosses ``/``, ``\\`` escapes);
  ``regex`` must match the *whole* value (RE2 ``ANCHOR_BOTH`` in libsinsp, ``re.fullmatch``
  here); ``pmatch`` is a path-prefix match on whole components (``/etc`` matches ``/etc`` and
  ``/etc/passwd``, not ``/etcd``); ``< >`` compare lexicographically (strcmp).
* **Booleans** take ``true``/``false``. **IP fields** take an address or a CIDR network; a
  network matches every address inside it (``fd.net = 10.0.0.0/8``, ``fd.ip in (...)``).
* **Multi-valued fields.** ``IS_LIST`` fields (``ka.*``): ``in`` needs every value in the set,
  ``intersects`` any; other operators match when any value matches. ``IS_LIST_WITHOUT_ARG``
  fields (``proc.aname`` with no index) match when any element matches, for every operator,
  as libsinsp's ancestor checks do. An empty list is N/A.

``Filter.event_types`` is computed the way Falco's ``filter_evttype_resolver`` does it.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

from sinsp.fields.registry import FieldError, FieldInfo, FieldRegistry, FieldType

from . import ast
from .errors import FilterCompileError
from .glob import AnyChar, Literal, Star, glob_parts
from .grammar import parse
from .transformers import TRANSFORMERS, TransformerTypeError

__all__ = ["Filter", "compile_filter", "event_type_universe", "event_types_of", "glob_to_regex"]

Pred = Callable[[Any], bool]
Getter = Callable[[Any], Any]


class Filter:
    """A compiled condition. ``matches(evt)`` is the closure tree itself (a plain attribute,
    so calling it costs one Python call); ``event_types`` is a frozenset of PPME codes the
    condition can match, or ``None`` when it is not bounded by ``evt.type``."""

    __slots__ = ("_special", "ast", "event_types", "matches", "registry", "text")

    def __init__(
        self, node: ast.Expr, matches: Pred, event_types: frozenset[int] | None, text: str,
        registry: FieldRegistry | None = None,
    ) -> None:
        self.ast = node
        self.matches = matches
        self.event_types = event_types
        self.text = text
        self.registry = registry
        self._special: dict[Any, Any] = {}

    def for_type(self, evt_type: int) -> Pred | bool:
        """The condition for events of type ``evt_type`` only, its ``evt.type`` checks decided
        (:mod:`sinsp.filter.specialize`): a predicate, or ``True``/``False``."""
        from .specialize import specialize

        return specialize(self, evt_type, self._special)

    def __call__(self, evt: Any) -> bool:
        return self.matches(evt)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def compile_filter(node_or_text: ast.Expr | str, registry: FieldRegistry) -> Filter:
    """Compile a condition (text or AST) against a field registry.

    Raises :class:`~sinsp.filter.errors.FilterSyntaxError` for bad text and
    :class:`FilterCompileError` (with the offending node's position) for unknown fields, bad
    arguments, literals that do not fit the field type, unsupported operator/type pairs,
    invalid regexes and unresolved identifiers (macros and lists must be expanded by the
    rule engine first).
    """
    if isinstance(node_or_text, str):
        text = node_or_text
        node = parse(text)
    else:
        node = node_or_text
        text = ast.to_text(node)
    comp = _Compiler(registry, text if isinstance(node_or_text, str) else "")
    return Filter(node, comp.expr(node), event_types_of(node), text, registry)


# -- literal parsing ------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+")


def _parse_number(s: str) -> int | float:
    t = s.strip()
    if _INT_RE.fullmatch(t):
        return int(t)
    if t[:2].lower() == "0x":
        return int(t, 16)
    return float(t)  # ValueError for anything else (nan/inf accepted as floats)


def _parse_bool(s: str) -> bool:
    if s == "true":
        return True
    if s == "false":
        return False
    raise ValueError(s)


def _parse_ip(s: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # An address is a /32 (or /128) network so one membership test covers both forms.
    return ipaddress.ip_network(s, strict=False)


def _parse_hex(s: str) -> bytes:
    return bytes.fromhex(s)


def glob_to_regex(pattern: str, icase: bool = False) -> re.Pattern[str]:
    """POSIX ``fnmatch(pattern, s, 0)`` as a compiled regex: ``*``, ``?``, ``[...]`` with
    ``!``/``^`` negation, ``\\`` escaping the next character; ``/`` and leading dots are
    ordinary characters."""
    out: list[str] = []
    for part in glob_parts(pattern):
        if isinstance(part, Star):
            out.append(".*")
        elif isinstance(part, AnyChar):
            out.append(".")
        elif isinstance(part, Literal):
            out.append(re.escape(part.char))
        else:
            out.append(part.regex())
    flags = re.DOTALL | (re.IGNORECASE if icase else 0)
    return re.compile("".join(out), flags)


def _path_components(p: str) -> tuple[str, ...]:
    return tuple(c for c in p.split("/") if c)


# -- operator applicability ------------------------------------------------------------------

_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_EQ_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
_NUMERIC_OPS = _EQ_OPS | _ORDER_OPS
_BYTES_OPS = _EQ_OPS | {"contains", "bcontains", "startswith", "bstartswith", "endswith"}
_STRING_OPS = frozenset(ast.BINARY_OPS) | {"exists"}
_BOOL_OPS = _EQ_OPS
_IP_OPS = _EQ_OPS


def _allowed_ops(t: FieldType) -> frozenset[str]:
    if t.is_numeric:
        return _NUMERIC_OPS
    if t.is_string:
        return _STRING_OPS
    if t is FieldType.BYTEBUF:
        return _BYTES_OPS
    if t is FieldType.BOOL:
        return _BOOL_OPS
    if t.is_ip:
        return _IP_OPS
    return _EQ_OPS


# -- the compiler ---------------------------------------------------------------------------


class _Compiler:
    def __init__(self, registry: FieldRegistry, text: str) -> None:
        self.registry = registry
        self.text = text

    def error(self, msg: str, node: ast.Node) -> FilterCompileError:
        pos = getattr(node, "pos", -1)
        line, col = ast.line_col(self.text, pos) if (self.text and pos >= 0) else (0, 0)
        return FilterCompileError(msg, pos, line, col, self.text)

    # boolean structure
    def expr(self, node: ast.Node) -> Pred:
        if isinstance(node, ast.And):
            return _chain("and", [self.expr(c) for c in _flatten(node, ast.And)])
        if isinstance(node, ast.Or):
            return _chain("or", [self.expr(c) for c in _flatten(node, ast.Or)])
        if isinstance(node, ast.Not):
            return _not(self.expr(node.child))
        if isinstance(node, ast.Unary):
            return self.unary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Identifier):
            raise self.error(f"undefined macro or identifier '{node.name}'", node)
        raise self.error(f"not a boolean expression: {type(node).__name__}", node)

    # fields
    def field(self, ref: ast.FieldRef) -> tuple[Getter, FieldType, bool, FieldInfo]:
        """(getter, type after transformers, multi-valued, info) for a field reference."""
        try:
            info, arg = self.registry.resolve(ref.name, ref.arg)
        except FieldError as e:
            raise self.error(e.message, ref) from None
        ext = info.extractor
        ftype, is_list = info.type, info.returns_list(arg)

        def get(e: Any, ext: Any = ext, arg: Any = arg) -> Any:
            return ext(e, arg)

        getter: Getter = get
        for name in ref.transformers:
            tr = TRANSFORMERS.get(name)
            if tr is None:
                raise self.error(f"unknown field transformer '{name}'", ref)
            try:
                new_type, new_list = tr.out_type(ftype, is_list)
            except TransformerTypeError as e:
                raise self.error(f"{e} applied on field '{ref.full_name}'", ref) from None
            getter = _transform(getter, tr.fn, whole=is_list and not new_list, each=is_list)
            ftype, is_list = new_type, new_list
        return getter, ftype, is_list, info

    def unary(self, node: ast.Unary) -> Pred:
        if node.op != "exists":
            raise self.error(f"unknown unary operator '{node.op}'", node)
        get = self.field(node.field)[0]

        def exists(e: Any) -> bool:
            v = get(e)
            return v is not None and not (isinstance(v, (list, tuple)) and not v)

        return exists

    def compare(self, node: ast.Compare) -> Pred:
        get, ftype, is_list, info = self.field(node.field)
        op = node.op
        if op not in _allowed_ops(ftype):
            raise self.error(
                f"operator '{op}' is not supported by field '{node.field.full_name}' "
                f"of type '{ftype.value}'",
                node,
            )
        strict_list = is_list and info.is_list  # IS_LIST: 'in' means every value is in the set
        if ftype is FieldType.BYTEBUF:
            get = _bytes_getter(get, is_list)  # extractors may hand back text for buffers
        rhs = node.value
        if isinstance(rhs, ast.FieldRef):
            return self.field_compare(node, get, ftype, is_list)
        if isinstance(rhs, ast.Identifier):
            raise self.error(f"undefined list '{rhs.name}'", rhs)
        if op in ("in", "intersects", "pmatch"):
            if isinstance(rhs, ast.Value):  # after list expansion, a single value is allowed
                rhs = ast.ListValue((rhs,), rhs.pos)
            values = [self.literal(v, ftype, op, node) for v in rhs.items]
            return self.set_check(op, get, values, ftype, is_list, strict_list, node)
        if isinstance(rhs, ast.ListValue):
            raise self.error(f"operator '{op}' does not take a list", rhs)
        lit = self.literal(rhs, ftype, op, node)
        fast = self.fast_path(node, op, lit, ftype, is_list)
        if fast is not None:
            return fast
        pred = self.value_pred(op, lit, ftype, node)
        return _lift(get, pred, is_list)

    def fast_path(self, node: ast.Compare, op: str, lit: Any, ftype: FieldType,
                  is_list: bool) -> Pred | None:
        """Equality on a plain single-valued field: one closure calling the extractor directly
        (the common shape of rule conditions; ``None`` never equals a literal)."""
        if is_list or node.field.transformers or ftype.is_ip or ftype is FieldType.BYTEBUF:
            return None
        info, arg = self.registry.resolve(node.field.name, node.field.arg)
        ext = info.extractor
        if op in ("=", "=="):
            return _inlinable(lambda e: ext(e, arg) == lit,
                              "{ext}(e, {arg}) == {lit}", ext=ext, arg=arg, lit=lit)
        if op == "!=":
            return _inlinable(lambda e: (v := ext(e, arg)) is not None and v != lit,
                              "(({v} := {ext}(e, {arg})) is not None and {v} != {lit})",
                              ext=ext, arg=arg, lit=lit, v=_TEMP)
        method = _FAST_METHODS.get(op) if ftype.is_string else None
        order = _FAST_ORDER.get(op) if ftype.is_numeric else None
        if method is None and order is None:
            return None

        def check(e: Any) -> bool:
            v = ext(e, arg)
            if v is None:
                return False
            try:
                return method(v, lit) if method is not None else order(v, lit)  # type: ignore[misc]
            except (TypeError, AttributeError, ValueError):
                return False  # a value of an unexpected type never matches

        return check

    def literal(self, v: ast.Value, ftype: FieldType, op: str, node: ast.Node) -> Any:
        s = v.value
        try:
            if op in ("bcontains", "bstartswith"):
                return _parse_hex(s)
            if op in ("glob", "iglob", "regex", "pmatch"):
                return s
            if ftype.is_numeric:
                return _parse_number(s)
            if ftype is FieldType.BOOL:
                return _parse_bool(s)
            if ftype.is_ip:
                return _parse_ip(s)
            if ftype is FieldType.BYTEBUF:
                return s.encode("utf-8", "surrogateescape")
        except ValueError:
            what = {"bcontains": "hex string", "bstartswith": "hex string"}.get(op)
            if what is None:
                what = (
                    "number" if ftype.is_numeric
                    else "boolean" if ftype is FieldType.BOOL
                    else "IP address or network"
                )  # fmt: skip
            raise self.error(f"{s} is not a valid {what}", v) from None
        return s

    def value_pred(self, op: str, lit: Any, ftype: FieldType, node: ast.Node) -> Pred:
        if ftype.is_ip:
            net = lit
            if op in ("=", "=="):
                return lambda v: _ip_in(v, net)
            if op == "!=":
                return lambda v: not _ip_in(v, net)
        if op in ("=", "=="):
            return lambda v: v == lit
        if op == "!=":
            return lambda v: v != lit
        if op == "<":
            return lambda v: v < lit
        if op == "<=":
            return lambda v: v <= lit
        if op == ">":
            return lambda v: v > lit
        if op == ">=":
            return lambda v: v >= lit
        if op == "contains":
            return lambda v: lit in v
        if op == "icontains":
            low = lit.lower()
            return lambda v: low in v.lower()
        if op == "startswith":
            return lambda v: v.startswith(lit)
        if op == "endswith":
            return lambda v: v.endswith(lit)
        if op in ("bcontains", "bstartswith"):
            b = lit
            if op == "bcontains":
                return lambda v: b in _as_bytes(v)
            return lambda v: _as_bytes(v).startswith(b)
        if op in ("glob", "iglob"):
            rx = glob_to_regex(lit, icase=op == "iglob")
            return lambda v: rx.fullmatch(v) is not None
        if op == "regex":
            try:
                rx = re.compile(lit, re.DOTALL)
            except re.error as e:
                raise self.error(f"invalid regular expression '{lit}': {e}", node) from None
            return lambda v: rx.fullmatch(v) is not None
        raise self.error(f"unsupported operator '{op}'", node)

    def set_check(
        self,
        op: str,
        get: Getter,
        values: list[Any],
        ftype: FieldType,
        is_list: bool,
        strict_list: bool,
        node: ast.Compare,
    ) -> Pred:
        if op != "pmatch" and not ftype.is_ip:
            members = frozenset(values)
            if not (is_list or ftype is FieldType.BYTEBUF or node.field.transformers):
                info, arg = self.registry.resolve(node.field.name, node.field.arg)
                ext = info.extractor

                def member(e: Any) -> bool:
                    try:
                        return ext(e, arg) in members  # None is never a member
                    except TypeError:  # an unhashable value from a sloppy extractor
                        return False

                return member
        pred, all_of = set_value_pred(op, values, ftype, strict_list)
        return _lift(get, pred, is_list, all_of=all_of)

    def field_compare(
        self, node: ast.Compare, get: Getter, ftype: FieldType, is_list: bool
    ) -> Pred:
        rget, rtype, _, _ = self.field(node.value)  # type: ignore[arg-type]
        op = node.op
        if op in ("pmatch", "glob", "iglob", "regex", "bcontains", "bstartswith"):
            raise self.error(f"operator '{op}' does not support a right-hand side field", node)
        if rtype.is_numeric != ftype.is_numeric:
            raise self.error(
                f"field '{node.field.full_name}' has type '{ftype.value}' while the right-hand "
                f"side field '{node.value.full_name}' has incompatible type "  # type: ignore[union-attr]
                f"'{rtype.value}'",
                node,
            )
        fixed_ops: dict[str, Callable[[Any, Any], bool]] = {
            "=": lambda a, b: a == b,
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "contains": lambda a, b: b in a,
            "icontains": lambda a, b: b.lower() in a.lower(),
            "startswith": lambda a, b: a.startswith(b),
            "endswith": lambda a, b: a.endswith(b),
        }
        if op in ("in", "intersects"):

            def check(e: Any) -> bool:
                a, b = get(e), rget(e)
                if a is None or b is None:
                    return False
                try:
                    bs = set(b) if isinstance(b, (list, tuple)) else {b}
                    if isinstance(a, (list, tuple)):
                        if not a:
                            return False
                        if op == "in":
                            return all(x in bs for x in a)
                        return any(x in bs for x in a)
                    return a in bs
                except TypeError:  # unhashable values never match
                    return False

            return check
        fn = fixed_ops[op]

        def cmp(e: Any) -> bool:
            a = get(e)
            if a is None:
                return False
            b = rget(e)
            if b is None:
                return False
            try:
                if isinstance(a, (list, tuple)):
                    return any(fn(x, b) for x in a)
                return fn(a, b)
            except (TypeError, AttributeError, ValueError):
                return False  # values of unexpected types never match

        return cmp


def set_value_pred(op: str, values: list[Any], ftype: FieldType,
                   strict_list: bool) -> tuple[Pred, bool]:
    """The per-value test of an ``in``/``intersects``/``pmatch`` check and whether a list
    value needs all its elements to pass (``_lift``'s ``all_of``)."""
    if op == "pmatch":
        prefixes = frozenset("/".join(_path_components(p)) for p in values)
        if "" in prefixes:  # "/" has no components: it is a prefix of every path

            def pred(v: Any) -> bool:
                return isinstance(v, str)
        else:

            def pred(v: Any) -> bool:
                # whole components only: try the text up to each '/' boundary
                p = v.strip("/")
                if "//" in p:
                    p = "/".join(_path_components(p))
                if p in prefixes:
                    return True
                i = p.find("/")
                while i != -1:
                    if p[:i] in prefixes:
                        return True
                    i = p.find("/", i + 1)
                return False

        return pred, strict_list
    if ftype.is_ip:
        nets = tuple(values)

        def pred(v: Any) -> bool:
            return any(_ip_in(v, n) for n in nets)
    else:
        members = frozenset(values)

        def pred(v: Any) -> bool:
            return v in members

    return pred, strict_list and op == "in"


_FAST_METHODS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": str.__contains__,
    "startswith": str.startswith,
    "endswith": str.endswith,
}
_FAST_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip

# -- closure builders -----------------------------------------------------------------------


def _flatten(node: ast.Node, kind: type) -> list[ast.Node]:
    """The operands of nested same-kind and/or nodes, in order (macro expansion nests them:
    ``a and (b and c)`` is one chain ``a and b and c``, with the same short-circuit order)."""
    out: list[ast.Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, kind):
            stack.extend(reversed(n.children))  # type: ignore[attr-defined]
        else:
            out.append(n)
    return out


# Generated code.  A predicate may carry ``_src = (expression, bindings, depth)``: Python
# source over ``e`` with its free names bound to values; and/or/not splice their operands'
# sources into one function (bindings as default arguments, i.e. fast locals), so a rule like
# ``a = x and (b != y or not c = z)`` is one frame plus its extractor calls.  Operands without
# source are called.  ``depth`` bounds the parenthesis nesting (CPython's parser stops at 200).

_TEMP = object()  # a placeholder for a walrus temporary, not a binding
_NAMES = itertools.count()
_MAX_DEPTH = 60


def _inlinable(fn: Pred, fmt: str, **binds: Any) -> Pred:
    """``fn`` with inlinable source ``fmt`` (``{name}`` placeholders for ``binds``)."""
    n = next(_NAMES)
    names = {k: f"_{k}{n}" for k in binds}
    bound = {names[k]: v for k, v in binds.items() if v is not _TEMP}
    fn._src = (fmt.format(**names), bound, 1)  # type: ignore[attr-defined]
    return fn


def _source(p: Pred) -> tuple[str, dict[str, Any], int]:
    got: tuple[str, dict[str, Any], int] | None = getattr(p, "_src", None)
    if got is not None and got[2] <= _MAX_DEPTH:
        return got
    name = f"_p{next(_NAMES)}"
    return f"{name}(e)", {name: p}, 0


def _build(kind: str, src: str, binds: dict[str, Any], depth: int) -> Pred:
    params = "".join(f", {k}={k}" for k in binds)
    code = f"def filter_{kind}(e{params}):\n    return {src}\n"
    env = dict(binds)
    exec(compile(code, f"<filter {kind}>", "exec"), env)
    fn: Pred = env[f"filter_{kind}"]
    fn._src = (src, binds, depth)  # type: ignore[attr-defined]
    return fn


def _not(inner: Pred) -> Pred:
    src, binds, depth = _source(inner)
    return _build("not", f"(not {src})", binds, depth + 1)


def _chain(op: str, preds: list[Pred]) -> Pred:
    """One function for a whole and/or chain: generated source ``a and b and ...`` over the
    operands' own sources (or calls), compiled once.  A loop over a tuple of callables costs
    ~40% more, nested two-operand lambdas one frame per level."""
    if len(preds) == 1:
        return preds[0]
    parts = [_source(p) for p in preds]
    binds: dict[str, Any] = {}
    for _, b, _ in parts:
        binds.update(b)
    src = "(" + f" {op} ".join(p[0] for p in parts) + ")"
    return _build(op, src, binds, max(p[2] for p in parts) + 1)


def _lift(get: Getter, pred: Pred, is_list: bool, all_of: bool = False) -> Pred:
    """A check over an extracted value: N/A -> False; lists -> any (or all) element.  The
    scalar case is written out (it is the hot one: no extra call per event); lists go
    through :func:`lift_value`, which the fused evaluator shares."""
    if not is_list:

        def check(e: Any) -> bool:
            v = get(e)
            if v is None:
                return False
            try:
                return pred(v)
            except (TypeError, ValueError, AttributeError):
                return False  # a value of an unexpected type never matches

        return check

    on_value = lift_value(pred, True, all_of)

    def check_list(e: Any) -> bool:
        return on_value(get(e))

    return check_list


def lift_value(pred: Pred, is_list: bool, all_of: bool = False) -> Pred:
    """``_lift`` on an already extracted value: ``lift_value(pred, ...)(get(e))`` is
    ``_lift(get, pred, ...)(e)`` (the fused rule evaluator extracts each field once)."""
    if not is_list:

        def check(v: Any) -> bool:
            if v is None:
                return False
            try:
                return pred(v)
            except (TypeError, ValueError, AttributeError):
                return False

        return check

    def check_list(vs: Any) -> bool:
        if vs is None:
            return False
        if not isinstance(vs, (list, tuple)):
            vs = (vs,)
        if not vs:
            return False
        try:
            if all_of:
                return all(pred(v) for v in vs if v is not None)
            return any(pred(v) for v in vs if v is not None)
        except (TypeError, ValueError, AttributeError):
            return False

    return check_list


def _safe(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A transformer that turns a value of an unexpected type into N/A instead of raising."""

    def safe(v: Any) -> Any:
        try:
            return fn(v)
        except (TypeError, AttributeError, ValueError):
            return None

    return safe


def _transform(get: Getter, fn: Callable[[Any], Any], whole: bool, each: bool) -> Getter:
    fn = _safe(fn)
    if whole:

        def whole_list(e: Any) -> Any:
            v = get(e)
            return None if v is None else fn(v)

        return whole_list
    if each:

        def each_item(e: Any) -> Any:
            v = get(e)
            if v is None:
                return None
            return [None if x is None else fn(x) for x in v]

        return each_item

    def single(e: Any) -> Any:
        v = get(e)
        return None if v is None else fn(v)

    return single


def _bytes_getter(get: Getter, is_list: bool) -> Getter:
    if is_list:
        return lambda e: None if (v := get(e)) is None else [_as_bytes(x) for x in v]
    return lambda e: None if (v := get(e)) is None else _as_bytes(v)


def _as_bytes(v: Any) -> bytes:
    return v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)


def _ip_in(v: Any, net: Any) -> bool:
    try:
        return ipaddress.ip_address(v) in net
    except ValueError:
        return False


# -- event types ----------------------------------------------------------------------------


@functools.cache
def _universe() -> frozenset[int]:
    from scap import schema

    tables = (schema.EVENT_INFO, getattr(schema, "EVENT_INFO_0_29_3", ()))
    return frozenset(range(max(len(t) for t in tables)))


def event_type_universe() -> int:
    """How many event types exist (``Filter.event_types`` is a subset of ``range`` of it)."""
    return len(_universe())


def _types_for(names: Iterable[str]) -> frozenset[int]:
    from scap.schema import event_types_by_name

    out: set[int] = set()
    for n in names:
        out |= event_types_by_name(n)
    return frozenset(out)


def event_types_of(node: ast.Node) -> frozenset[int] | None:
    """PPME codes a condition can match (Falco's ``filter_evttype_resolver``), ``None`` = all.

    ``evt.type = X`` / ``in (X, Y)`` give those types, ``!=`` the complement; any other check
    gives all types; ``and`` intersects, ``or`` unites, ``not`` complements unless its operand
    already covers all types (so ``not proc.name = x`` stays unbounded).
    """
    universe = _universe()
    result = _evttypes(node, universe)
    return None if result >= universe else result


def _evttypes(node: ast.Node, universe: frozenset[int]) -> frozenset[int]:
    if isinstance(node, ast.And):
        acc = universe
        for c in node.children:
            acc = acc & _evttypes(c, universe)
        return acc
    if isinstance(node, ast.Or):
        acc = frozenset()
        for c in node.children:
            acc = acc | _evttypes(c, universe)
        return acc
    if isinstance(node, ast.Not):
        inner = _evttypes(node.child, universe)
        return universe if inner >= universe else universe - inner
    if isinstance(node, ast.Compare):
        f = node.field
        if f.name == "evt.type" and f.arg is None and not f.transformers:
            v = node.value
            if node.op in ("=", "==", "!=", "in"):
                if isinstance(v, ast.Value):
                    types = _types_for([v.value])
                elif isinstance(v, ast.ListValue):
                    types = _types_for(i.value for i in v.items)
                else:
                    return universe
                return universe - types if node.op == "!=" else types
    return universe
