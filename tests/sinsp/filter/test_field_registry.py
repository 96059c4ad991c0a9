"""sinsp.fields.registry: registration, name resolution (longest prefix, [arg] and .arg),
argument validation, listing."""

from __future__ import annotations

import pytest

from sinsp.fields.registry import (
    REGISTRIES,
    ArgKind,
    FieldArgumentError,
    FieldClassBuilder,
    FieldFlag,
    FieldInfo,
    FieldRegistry,
    FieldType,
    UnknownFieldError,
    get_registry,
)


def _reg() -> FieldRegistry:
    reg = FieldRegistry("t")
    b = FieldClassBuilder("evt", "event fields")
    b.field("evt.type", FieldType.CHARBUF, "type")(lambda e, a: "open")
    b.field("evt.type.is", FieldType.UINT32, "is type", arg=ArgKind.KEY,
            flags=FieldFlag.DOT_ARG | FieldFlag.REQUIRES_ARG)(
        lambda e, a: int(a == "open"))  # fmt: skip
    b.field("evt.arg", FieldType.CHARBUF, "arg", arg=ArgKind.KEY,
            flags=FieldFlag.DOT_ARG | FieldFlag.REQUIRES_ARG)(lambda e, a: f"arg:{a}")  # fmt: skip
    b.field("evt.secret", FieldType.CHARBUF, "hidden", flags=FieldFlag.HIDDEN)(lambda e, a: 1)
    reg.register(b.build())
    p = FieldClassBuilder("process", "process fields")
    p.field("proc.aname", FieldType.CHARBUF, "ancestor", arg=ArgKind.INDEX,
            flags=FieldFlag.IS_LIST_WITHOUT_ARG)(lambda e, a: a)  # fmt: skip
    p.field("fd.sip", FieldType.IPADDR, "server ip")(lambda e, a: "1.2.3.4")
    p.field("fd.sip.name", FieldType.CHARBUF, "server name")(lambda e, a: "host")
    reg.register(p.build())
    return reg


def test_exact_and_longest_prefix() -> None:
    reg = _reg()
    assert reg.get("fd.sip").name == "fd.sip"
    assert reg.get("fd.sip.name").name == "fd.sip.name"
    assert reg.resolve("evt.type") == (reg.get("evt.type"), None)
    # evt.type.is.open -> the longest dotted field evt.type.is with key "open"
    info, arg = reg.resolve("evt.type.is.open")
    assert (info.name, arg) == ("evt.type.is", "open")
    assert reg.extract(None, "evt.type.is.open") == 1
    assert reg.resolve("evt.arg.fd")[1] == "fd"
    assert reg.resolve("evt.arg[0]")[1] == "0"
    assert reg.resolve("evt.arg", "name")[1] == "name"


def test_index_args() -> None:
    reg = _reg()
    assert reg.resolve("proc.aname[2]")[1] == 2
    assert reg.resolve("proc.aname")[1] is None
    info = reg.get("proc.aname")
    assert info.returns_list(None) and not info.returns_list(2)
    with pytest.raises(FieldArgumentError, match="numeric index"):
        reg.resolve("proc.aname[x]")


def test_errors() -> None:
    reg = _reg()
    with pytest.raises(UnknownFieldError, match=r"nonexistent field proc\.nope"):
        reg.get("proc.nope")
    with pytest.raises(FieldArgumentError, match="does not take an argument"):
        reg.resolve("evt.type[1]")
    with pytest.raises(FieldArgumentError, match="requires an argument"):
        reg.resolve("evt.arg")
    with pytest.raises(FieldArgumentError, match="both"):
        reg.resolve("evt.arg.fd", "1")
    assert "evt.arg.fd" in reg and "nope.x" not in reg


def test_listing_and_replacement() -> None:
    reg = _reg()
    names = [f.name for _, f in reg.list_fields()]
    assert names == ["evt.type", "evt.type.is", "evt.arg", "proc.aname", "fd.sip", "fd.sip.name"]
    assert "evt.secret" in [f.name for _, f in reg.list_fields(include_hidden=True)]
    b = FieldClassBuilder("evt", "replaced")
    b.add(FieldInfo("evt.num", FieldType.UINT64, "number", lambda e, a: 7))
    reg.register(b.build())
    assert "evt.type" not in reg and reg.extract(None, "evt.num") == 7
    assert [c.name for c in reg.classes] == ["process", "evt"]


def test_render_defaults() -> None:
    reg = _reg()
    info = reg.get("evt.type")
    assert reg.render(None, info) == "<NA>"
    assert reg.render(True, info) == "true"
    assert reg.render(["a", "b"], info) == "(a,b)"
    custom = FieldInfo("x.y", FieldType.UINT64, "", lambda e, a: 1, renderer=lambda v: f"<{v}>")
    assert reg.render(3, custom) == "<3>"


def test_per_source_registries() -> None:
    assert REGISTRIES["syscall"].source == "syscall"
    k = get_registry("k8s_audit_test_only")
    try:
        assert get_registry("k8s_audit_test_only") is k
    finally:
        del REGISTRIES["k8s_audit_test_only"]
