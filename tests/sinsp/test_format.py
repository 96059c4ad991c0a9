"""sinsp.format: the pieces of sysdig's text rendering, one rule at a time.

Expected strings come from sysdig 0.29.3 (its output on the real captures, or what its
libsinsp code does with the same input, e.g. printf's ``%d`` of an unsigned 32-bit value).
"""

from __future__ import annotations

import pytest

from scap.schema import PF
from sinsp import format as fmt
from sinsp.format import FormatError, Formatter, default_registry


@pytest.mark.parametrize(("value", "bits", "pf", "text"), [
    (0x80000001, 32, PF.DEC, "-2147483647"),   # %d of a uint32
    (4096, 32, PF.DEC, "4096"),
    (0o755, 32, PF.OCT, "0755"),                # %#o
    (0, 32, PF.OCT, "0"),
    (-1, 32, PF.HEX, "FFFFFFFF"),               # %X of an int
    (0x7FAD48782000, 64, PF.HEX, "7FAD48782000"),
    (-1, 64, PF.HEX, "FFFFFFFFFFFFFFFF"),
    (1234, 64, PF.PADDED_DEC_10, "000001234"),
    (200, 8, PF.DEC, "200"),
])  # fmt: skip
def test_printf_int(value: int, bits: int, pf: int, text: str) -> None:
    assert fmt.printf_int(value, bits, pf) == text


@pytest.mark.parametrize(("base", "path", "result", "relative"), [
    ("/home/u/", "../etc/./passwd", "/home/etc/passwd", True),
    ("/home/u/", "a//b/", "/home/u/a/b", True),
    ("/", "../../x", "/x", True),
    ("/home/u/", "/abs/dir/", "/abs/dir", False),
    ("/home/u/", "x/..", "/home/u", True),
    ("/home/u/", "caf\u00e9", "/home/u/caf..", True),  # each invalid byte becomes '.'
])  # fmt: skip
def test_concatenate_paths(base: str, path: str, result: str, relative: bool) -> None:
    assert fmt.concatenate_paths(base, path) == (result, relative)


def test_sanitize_keeps_ascii_and_tilde() -> None:
    assert fmt.sanitize("a~b") == "a~b"
    assert fmt.sanitize("w\u00f6rld\x7f") == "wrld"


def test_bytebuf_cut_and_modes() -> None:
    data = bytes(range(100))
    dots = fmt._render_bytebuf(data, fmt.DEFAULT_OPTIONS)
    assert len(dots) == 80 and dots.endswith("...")
    assert dots.startswith("." * 32 + " !\"#")
    b64 = fmt._render_bytebuf(b"abc", fmt.RenderOptions(buffer_format=fmt.BufferFormat.BASE64))
    assert b64 == "YWJj"
    hexd = fmt._render_bytebuf(b"abc", fmt.RenderOptions(buffer_format=fmt.BufferFormat.HEX))
    assert hexd == "\n\t0x0000: 6162 63\n"


def test_format_parsing() -> None:
    f = Formatter("*%evt.num [%6proc.name] %evt.arg.fd %evt.arg[1]", default_registry())
    kinds = [(t[0], t[2], t[3]) for t in f.tokens]
    assert kinds == [("evt.num", None, 0), (" [", None, 0), ("proc.name", None, 6),
                     ("] ", None, 0), ("evt.arg.fd", "fd", 0), (" ", None, 0),
                     ("evt.arg[1]", "1", 0)]  # fmt: skip
    assert not f.require_all
    assert Formatter("%evt.num", default_registry()).require_all


@pytest.mark.parametrize("bad", ["%", "%evt.num %", "%12", "%nosuch.field", "%evt.arg"])
def test_format_errors(bad: str) -> None:
    with pytest.raises(FormatError):
        Formatter(bad, default_registry())


def test_json_dumps_like_jsoncpp() -> None:
    text = fmt.json_dumps({"b": "x\"y\\\n\x01", "a": 1, "c": None, "d": True, "e": "\u00e9"})
    assert text == '{"a":1,"b":"x\\"y\\\\\\n\\u0001","c":null,"d":true,"e":"\u00e9"}'


def test_time_strings_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    ts = 1522704423470393498
    assert fmt.ts_time(ts) == "21:27:03.470393498"
    assert fmt.ts_datetime(ts, False) == "2018-04-02 21:27:03"
    assert fmt.ts_iso8601(ts) == "2018-04-02T21:27:03.470393498+0000"


def test_time_strings_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """sysdig prints evt.time shifted by the local UTC offset of *today* (libsinsp
    gmt2local(0)), evt.time.iso8601 always in UTC. For an April event read in November under
    TZ=America/New_York sysdig printed 16:27:03 (EST, -5 h), not 17:27:03 (EDT)."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        ts = 1522704423470393498
        offset = fmt.gmt2local()
        assert offset in (-5 * 3600, -4 * 3600)
        assert fmt.ts_time(ts) == f"{21 + offset // 3600:02d}:27:03.470393498"
        assert fmt.ts_iso8601(ts) == "2018-04-02T21:27:03.470393498+0000"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
