"""hp_load's check() against malformed tables (review of the live hot path, #6).

``sinsp.hotpath.compile_program`` is the only producer of these tables, so none of this is
reachable from rules today; check() promises that evaluation terminates inside the tables for
*any* input, and a verdict of FALSE (the one that lets a record be absorbed) must never come
from a pred C cannot evaluate.  Each case loads a hand-made table through the C API."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from sinsp import hotpath

pytestmark = pytest.mark.skipif(not hotpath.available(),
                                reason=f"hot path not built: {hotpath.import_error()}")

N_CONST, N_PRED, N_AND = 0, 1, 2
G_STAR, G_ANY, G_CLASS, G_LIT = 1, 2, 3, 4
OPENAT_2_X = 307


def _load_pred(field: int, op: int, strs: list[bytes], ints: list[int]) -> int:
    """hp_load of one openat tree made of a single pred over all of ``strs`` or ``ints``."""
    from sinsp import _hotpath_native as n  # type: ignore[attr-defined]

    ffi, lib = n.ffi, n.lib
    nodes = ffi.new("hp_node[]", 1)
    nodes[0].kind, nodes[0].end, nodes[0].arg = N_PRED, 1, 0
    preds = ffi.new("hp_pred[]", 1)
    count = len(strs) if field <= 4 else len(ints)
    preds[0].field, preds[0].op, preds[0].first, preds[0].count = field, op, 0, count
    roots = ffi.new("int32_t[]", [-1] * 512)
    roots[OPENAT_2_X] = 0
    offs, pos = [], 0
    for s in strs:
        offs.append(pos)
        pos += len(s)
    h = ffi.gc(lib.hp_new(), lib.hp_free)
    blob = b"".join(strs)
    return int(lib.hp_load(h, nodes, 1, preds, 1, blob, len(blob),
                           ffi.new("uint32_t[]", offs or [0]),
                           ffi.new("uint32_t[]", [len(s) for s in strs] or [0]), len(strs),
                           ffi.new("int64_t[]", ints or [0]), len(ints), roots, 512))


HANG = r"""
import importlib.util, sys
from pathlib import Path
name = Path(sys.argv[1]).name.split(".")[0]   # the extension this process has loaded
spec = importlib.util.spec_from_file_location(name, sys.argv[1])
n = importlib.util.module_from_spec(spec)
spec.loader.exec_module(n)
ffi, lib = n.ffi, n.lib
nodes = ffi.new("hp_node[]", 2)
nodes[0].kind, nodes[0].end, nodes[0].arg = 2, 2, 0   # AND over [1, 2)
nodes[1].kind, nodes[1].end, nodes[1].arg = 0, 1, 0   # a CONST whose end is itself
preds = ffi.new("hp_pred[]", 1)
roots = ffi.new("int32_t[]", [-1] * 512)
h = lib.hp_new()
print(lib.hp_load(h, nodes, 2, preds, 0, b"", 0, ffi.new("uint32_t[]", [0]),
                  ffi.new("uint32_t[]", [0]), 0, ffi.new("int64_t[]", [0]), 0, roots, 512))
"""


def test_a_child_whose_end_is_not_past_itself_is_rejected_not_a_hang() -> None:
    # check() walks an and/or's children through their ends before it checks them
    try:
        out = subprocess.run([sys.executable, "-c", HANG, hotpath._native.__file__],
                             capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("hp_load did not return on a malformed node table (infinite loop)")
    assert out.stdout.strip() == "-1", out


@pytest.mark.parametrize("tokens", [bytes([G_STAR, G_LIT]), bytes([G_CLASS, 0xFF]),
                                    bytes([G_STAR, 7]), bytes([0])],
                         ids=["cut-lit", "cut-class", "unknown-token", "zero-token"])
def test_a_glob_operand_that_is_not_whole_tokens_is_rejected(tokens: bytes) -> None:
    # tok_match would read past the string table (ASan: heap overflow from hp_eval_view)
    glob = hotpath._OP_CODES["glob"]
    assert _load_pred(0, glob, [tokens], []) != 0


def test_whole_glob_tokens_load() -> None:
    glob = hotpath._OP_CODES["glob"]
    whole = hotpath._glob_tokens("/etc/[a-z]?*\\*")
    assert whole is not None
    assert _load_pred(0, glob, [whole], []) == 0
    assert _load_pred(0, glob, [b""], []) == 0  # the empty pattern: matches ""
    # a later operand of the table cut short is refused as well
    assert _load_pred(0, glob, [whole, bytes([G_LIT])], []) != 0


def _kind_ops(field: str) -> frozenset[str]:
    """The operators sinsp.hotpath.operands() lets through for the field's kind."""
    if field in hotpath._STRING_FIELDS:
        return hotpath._STRING_OPS
    if field in hotpath._INT_FIELDS:
        return hotpath._NUMBER_OPS
    assert field in hotpath._BOOL_FIELDS
    return hotpath._BOOL_OPS


@pytest.mark.parametrize("field", sorted(hotpath._FIELD_CODES))
def test_hp_load_takes_exactly_the_operators_of_the_fields_kind(field: str) -> None:
    # an operator meaningless for the field (glob on fd.num, < on a boolean) fell through to
    # FALSE in C: the one verdict that absorbs
    code = hotpath._FIELD_CODES[field]
    is_str = field in hotpath._STRING_FIELDS
    got: dict[str, Any] = {}
    for op, op_code in hotpath._OP_CODES.items():
        strs = [bytes([G_STAR]) if op == "glob" else b"/etc"] if is_str else []
        got[op] = _load_pred(code, op_code, strs, [] if is_str else [1]) == 0
    assert {op for op, ok in got.items() if ok} == _kind_ops(field)
