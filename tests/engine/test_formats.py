"""Output templates: token resolution, <NA>, typed JSON values, and the time prefixes."""

from __future__ import annotations

from typing import Any

import pytest

from engine.formats import OutputFormat, OutputFormatError, format_time, iso_utc
from sinsp.fields.registry import ArgKind, FieldClassBuilder, FieldRegistry, FieldType


@pytest.fixture(scope="module")
def reg() -> FieldRegistry:
    r = FieldRegistry("test")
    b = FieldClassBuilder("t", "test fields", source="test")

    @b.field("fd.name", FieldType.FSPATH, "name")
    def _name(evt: dict[str, Any], arg: Any) -> Any:
        return evt.get("name")

    @b.field("fd.num", FieldType.INT64, "num")
    def _num(evt: dict[str, Any], arg: Any) -> Any:
        return evt.get("num")

    @b.field("proc.aname", FieldType.CHARBUF, "ancestor", arg=ArgKind.INDEX)
    def _aname(evt: dict[str, Any], arg: Any) -> Any:
        return evt.get("anc", {}).get(arg)

    r.register(b.build())
    return r


def test_tokens_and_na(reg: FieldRegistry) -> None:
    f = OutputFormat("open %fd.name. (fd=%fd.num gp=%proc.aname[2]) 100%", reg)
    assert [t[0] for t in f.fields] == ["fd.name", "fd.num", "proc.aname[2]"]
    evt = {"name": "/etc/x", "num": 3, "anc": {2: "bash"}}
    assert f.render(evt) == "open /etc/x. (fd=3 gp=bash) 100%"
    assert f.render({}) == "open <NA>. (fd=<NA> gp=<NA>) 100%"
    assert f.values(evt) == {"fd.name": "/etc/x", "fd.num": 3, "proc.aname[2]": "bash"}
    assert f.values({}) == {"fd.name": None, "fd.num": None, "proc.aname[2]": None}


def test_star_prefix_and_unknown(reg: FieldRegistry) -> None:
    assert OutputFormat("*x=%fd.num", reg).render({"num": 1}) == "x=1"
    with pytest.raises(OutputFormatError, match=r"invalid formatting token %no\.such"):
        OutputFormat("x %no.such y", reg)


def test_time_prefixes() -> None:
    ts = 1470327477881730713  # first execve of cat_write.scap (sysdig: 16:17:57.881730713, TZ=UTC)
    assert iso_utc(ts) == "2016-08-04T16:17:57.881730713Z"
    import time

    if time.strftime("%z") == "+0000":
        assert format_time(ts) == "16:17:57.881730713"
        assert format_time(ts, iso8601=True) == "2016-08-04T16:17:57.881730713+0000"
