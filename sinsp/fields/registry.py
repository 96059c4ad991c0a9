"""The field registry: how a field name such as ``proc.aname[2]`` becomes an extractor.

libsinsp calls these "filterchecks": each field class (``evt``, ``proc``, ``fd``, ...) owns a
table of fields, and the filter compiler, the output formatter and ``sysdig -p`` all resolve a
field name through that table. pyfalco keeps the same shape: one :class:`FieldRegistry` per
event *source* (``REGISTRIES["syscall"]``; the k8s audit source adds ``REGISTRIES["k8s_audit"]``),
holding :class:`FieldClass` objects, each a tuple of :class:`FieldInfo`.

How a field class registers (the recipe the ``proc``/``fd``/``evt``/``ka`` modules follow)::

    from sinsp.fields.registry import (REGISTRIES, ArgKind, FieldClassBuilder, FieldFlag,
                                       FieldType)

    proc = FieldClassBuilder("process", "Information about the process that generated the event.")

    @proc.field("proc.name", FieldType.CHARBUF, "the name (excluding the path) of the executable")
    def _proc_name(evt, arg):
        t = evt.thread
        return None if t is None else t.comm          # None means N/A

    @proc.field("proc.aname", FieldType.CHARBUF, "the name of one of the ancestors",
                arg=ArgKind.INDEX, flags=FieldFlag.IS_LIST_WITHOUT_ARG)
    def _proc_aname(evt, arg):
        ...   # arg is an int (or None): a str for arg=0.., a list of names when arg is None

    REGISTRIES["syscall"].register(proc.build())

Extractors take ``(evt, arg)`` and return a Python value or ``None`` for N/A. The value types
follow the field type: ``int`` for the integer, time and port types, ``bool`` for BOOL, ``str``
for CHARBUF/FSPATH (and for IPADDR: the textual address), ``bytes`` for BYTEBUF, ``float`` for
DOUBLE. A field flagged ``IS_LIST`` (or ``IS_LIST_WITHOUT_ARG`` when called with no argument)
returns a ``list``/``tuple`` of such values; the filter compiler treats it as a multi-value
field (``in``/``intersects``, any-element semantics for the other operators), as libsinsp does.

Arguments: ``ArgKind.INDEX`` fields take ``[N]`` (passed as ``int``), ``ArgKind.KEY`` fields take
``[key]`` or, when flagged ``DOT_ARG``, ``.key`` after the name (``evt.arg.fd``,
``evt.type.is.open``); ``OPTIONAL``/``REQUIRED`` say whether the argument may be omitted.
Errors are :class:`UnknownFieldError` / :class:`FieldArgumentError`, both carrying the field text.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "REGISTRIES",
    "ArgKind",
    "Extractor",
    "FieldArgumentError",
    "FieldClass",
    "FieldClassBuilder",
    "FieldError",
    "FieldFlag",
    "FieldInfo",
    "FieldRegistry",
    "FieldType",
    "UnknownFieldError",
    "get_registry",
]

Extractor = Callable[[Any, Any], Any]


class FieldType(enum.Enum):
    """Types of extracted values, named like libsinsp's ``PT_*`` used in field tables."""

    INT8 = "INT8"
    INT16 = "INT16"
    INT32 = "INT32"
    INT64 = "INT64"
    UINT8 = "UINT8"
    UINT16 = "UINT16"
    UINT32 = "UINT32"
    UINT64 = "UINT64"
    DOUBLE = "DOUBLE"
    BOOL = "BOOL"
    CHARBUF = "CHARBUF"
    BYTEBUF = "BYTEBUF"
    FSPATH = "FSPATH"
    FSRELPATH = "FSRELPATH"
    IPADDR = "IPADDR"
    IPV4ADDR = "IPV4ADDR"
    IPV6ADDR = "IPV6ADDR"
    IPNET = "IPNET"
    IPV4NET = "IPV4NET"
    IPV6NET = "IPV6NET"
    PORT = "PORT"
    L4PROTO = "L4PROTO"
    SOCKFAMILY = "SOCKFAMILY"
    RELTIME = "RELTIME"
    ABSTIME = "ABSTIME"
    ERRNO = "ERRNO"
    FD = "FD"
    PID = "PID"
    UID = "UID"
    GID = "GID"
    FLAGS32 = "FLAGS32"
    MODE = "MODE"
    SYSCALLID = "SYSCALLID"

    @property
    def is_numeric(self) -> bool:
        """Whether the compiler parses right-hand literals as numbers (libsinsp flt_compare)."""
        return self in _NUMERIC

    @property
    def is_ip(self) -> bool:
        return self in _IP

    @property
    def is_string(self) -> bool:
        return self in _STRING


_NUMERIC = frozenset(
    {
        FieldType.INT8, FieldType.INT16, FieldType.INT32, FieldType.INT64,
        FieldType.UINT8, FieldType.UINT16, FieldType.UINT32, FieldType.UINT64,
        FieldType.DOUBLE, FieldType.PORT, FieldType.L4PROTO, FieldType.SOCKFAMILY,
        FieldType.RELTIME, FieldType.ABSTIME, FieldType.ERRNO, FieldType.FD, FieldType.PID,
        FieldType.UID, FieldType.GID, FieldType.FLAGS32, FieldType.MODE, FieldType.SYSCALLID,
    }
)  # fmt: skip
_IP = frozenset(
    {
        FieldType.IPADDR, FieldType.IPV4ADDR, FieldType.IPV6ADDR,
        FieldType.IPNET, FieldType.IPV4NET, FieldType.IPV6NET,
    }
)  # fmt: skip
_STRING = frozenset({FieldType.CHARBUF, FieldType.FSPATH, FieldType.FSRELPATH})


class ArgKind(enum.StrEnum):
    """Whether and how a field takes an argument (libsinsp EPF_ARG_REQUIRED/ALLOWED/INDEX/KEY)."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"
    INDEX = "index"  # [N], an int; may be omitted unless also REQUIRES_ARG
    KEY = "key"  # [key] or .key, a str


class FieldFlag(enum.Flag):
    """Field properties that change how it may be used (libsinsp EPF_* flags)."""

    NONE = 0
    FILTER_ONLY = enum.auto()  # usable in filters, not in outputs (EPF_FILTER_ONLY)
    PRINT_ONLY = enum.auto()  # usable in outputs only (EPF_PRINT_ONLY)
    HIDDEN = enum.auto()  # not listed by --list (EPF_TABLE_ONLY)
    DEPRECATED = enum.auto()
    REQUIRES_ARG = enum.auto()  # with INDEX/KEY: the argument may not be omitted
    DOT_ARG = enum.auto()  # KEY argument may be written as ``name.key`` (evt.arg.fd)
    IS_LIST = enum.auto()  # always extracts a list of values (EPF_IS_LIST)
    IS_LIST_WITHOUT_ARG = enum.auto()  # a list when called without argument (proc.aname)


class FieldError(Exception):
    """Base of field resolution errors; ``text`` is the field as written, ``pos`` its offset."""

    def __init__(self, message: str, text: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.pos = pos


class UnknownFieldError(FieldError, KeyError):
    """No registered field matches the name."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class FieldArgumentError(FieldError, ValueError):
    """The field exists but its argument is missing, unexpected or malformed."""


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field of a field class: its name, value type, argument rules and extractor."""

    name: str
    type: FieldType
    desc: str
    extractor: Extractor = field(repr=False, compare=False)
    arg: ArgKind = ArgKind.NONE
    flags: FieldFlag = FieldFlag.NONE
    display: str = ""  # e.g. "proc.aname[N]"; shown by --list; defaults to name
    renderer: Callable[[Any], str] | None = field(default=None, repr=False, compare=False)

    @property
    def is_list(self) -> bool:
        return FieldFlag.IS_LIST in self.flags

    def returns_list(self, arg: Any) -> bool:
        """Whether extraction with this argument yields a list of values."""
        if FieldFlag.IS_LIST in self.flags:
            return True
        return FieldFlag.IS_LIST_WITHOUT_ARG in self.flags and arg is None

    @property
    def filter_only(self) -> bool:
        return FieldFlag.FILTER_ONLY in self.flags

    @property
    def hidden(self) -> bool:
        return FieldFlag.HIDDEN in self.flags

    def parse_arg(self, arg: str | None, text: str | None = None) -> Any:
        """Validate and convert the raw argument text (``None`` when absent).

        Index arguments become ``int``; key and free arguments stay ``str``.
        Raises :class:`FieldArgumentError` naming the field.
        """
        where = text or self.name
        if arg is None:
            needs = self.arg is ArgKind.REQUIRED or FieldFlag.REQUIRES_ARG in self.flags
            if needs:
                raise FieldArgumentError(f"filter field '{where}' requires an argument", where)
            return None
        if self.arg is ArgKind.NONE:
            raise FieldArgumentError(f"filter field '{self.name}' does not take an argument", where)
        if self.arg is ArgKind.INDEX:
            try:
                return int(arg, 0)
            except ValueError:
                raise FieldArgumentError(
                    f"filter field '{self.name}' needs a numeric index argument, got '{arg}'",
                    where,
                ) from None
        return arg

    def extract(self, evt: Any, arg: Any = None) -> Any:
        return self.extractor(evt, arg)


@dataclass(frozen=True, slots=True)
class FieldClass:
    """A named group of fields (libsinsp's filtercheck class: ``evt``, ``proc``, ``fd``...)."""

    name: str
    desc: str
    fields: tuple[FieldInfo, ...]
    source: str = "syscall"


class FieldClassBuilder:
    """Collects ``@builder.field(...)``-decorated extractors into a :class:`FieldClass`."""

    def __init__(self, name: str, desc: str, source: str = "syscall") -> None:
        self.name = name
        self.desc = desc
        self.source = source
        self._fields: list[FieldInfo] = []

    def field(
        self,
        name: str,
        type: FieldType,  # mirrors FieldInfo.type
        desc: str,
        *,
        arg: ArgKind = ArgKind.NONE,
        flags: FieldFlag = FieldFlag.NONE,
        display: str = "",
        renderer: Callable[[Any], str] | None = None,
    ) -> Callable[[Extractor], Extractor]:
        def deco(fn: Extractor) -> Extractor:
            self.add(FieldInfo(name, type, desc, fn, arg, flags, display, renderer))
            return fn

        return deco

    def add(self, info: FieldInfo) -> None:
        self._fields.append(info)

    def build(self) -> FieldClass:
        return FieldClass(self.name, self.desc, tuple(self._fields), self.source)


class FieldRegistry:
    """All fields of one event source, looked up by name the way libsinsp resolves them.

    Resolution: an exact name wins; otherwise the longest registered name that is a prefix of
    the text followed by ``.`` resolves with the rest as a dotted key argument, for fields
    flagged ``DOT_ARG`` (``evt.arg.fd`` -> ``evt.arg`` with arg ``"fd"``).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._classes: list[FieldClass] = []
        self._by_name: dict[str, FieldInfo] = {}
        self._dotted: list[FieldInfo] = []  # DOT_ARG fields, longest name first

    def register(self, cls: FieldClass) -> FieldClass:
        """Add a field class. Re-registering a class of the same name replaces it."""
        old = [c for c in self._classes if c.name == cls.name]
        for c in old:
            self._classes.remove(c)
            for f in c.fields:
                if self._by_name.get(f.name) is f:
                    del self._by_name[f.name]
        self._classes.append(cls)
        for f in cls.fields:
            self._by_name[f.name] = f
        self._dotted = sorted(
            (f for f in self._by_name.values() if FieldFlag.DOT_ARG in f.flags),
            key=lambda f: -len(f.name),
        )
        return cls

    # -- lookup -------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.resolve(name)
        except FieldError:
            return False
        return True

    def get(self, name: str) -> FieldInfo:
        """The FieldInfo for a field name, with or without its argument (``fd.name``,
        ``proc.aname[2]``, ``evt.arg.fd``). Raises :class:`UnknownFieldError`."""
        return self.resolve(name)[0]

    def resolve(self, name: str, arg: str | None = None) -> tuple[FieldInfo, Any]:
        """Resolve a field name and its raw argument text into ``(FieldInfo, parsed arg)``.

        The argument may be given separately (as the filter parser does for ``name[arg]``)
        or inline in ``name``. Raises :class:`UnknownFieldError` / :class:`FieldArgumentError`.
        """
        text = name if arg is None else f"{name}[{arg}]"
        if arg is None and name.endswith("]") and "[" in name:
            name, _, rest = name.partition("[")
            arg = rest[:-1]
        info = self._by_name.get(name)
        if info is not None:
            return info, info.parse_arg(arg, text)
        for info in self._dotted:
            prefix = info.name + "."
            if name.startswith(prefix) and len(name) > len(prefix):
                if arg is not None:
                    raise FieldArgumentError(
                        f"filter field '{text}' has both a dotted and a bracketed argument", text
                    )
                return info, info.parse_arg(name[len(prefix) :], text)
        raise UnknownFieldError(f"filter_check called with nonexistent field {name}", text)

    def extract(self, evt: Any, name: str, arg: str | None = None) -> Any:
        """Extract one field by name (slow path: resolves the name on every call)."""
        info, parsed = self.resolve(name, arg)
        return info.extractor(evt, parsed)

    def render(self, value: Any, info: FieldInfo) -> str:
        """sysdig-style text for a value: the field's own renderer, else a plain default."""
        if info.renderer is not None:
            return info.renderer(value)
        return default_render(value)

    # -- listing ------------------------------------------------------------------------

    @property
    def classes(self) -> tuple[FieldClass, ...]:
        return tuple(self._classes)

    def list_fields(self, include_hidden: bool = False) -> Iterator[tuple[FieldClass, FieldInfo]]:
        """Every (class, field) pair in registration order, for ``--list``."""
        for cls in self._classes:
            for f in cls.fields:
                if include_hidden or not f.hidden:
                    yield cls, f

    def names(self) -> Iterable[str]:
        return self._by_name.keys()


def default_render(value: Any) -> str:
    """Plain text of a value, as sysdig prints values whose field has no special format."""
    if value is None:
        return "<NA>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(default_render(v) for v in value) + ")"
    return str(value)


REGISTRIES: dict[str, FieldRegistry] = {"syscall": FieldRegistry("syscall")}


def get_registry(source: str) -> FieldRegistry:
    """The registry of a source, created empty on first use (plugin sources add theirs)."""
    reg = REGISTRIES.get(source)
    if reg is None:
        reg = REGISTRIES[source] = FieldRegistry(source)
    return reg
