"""Field transformers (``tolower(fd.name)``, ``len(proc.args)``...) as value -> value functions.

libsinsp applies transformers to the extracted values before comparing (``apply_transformers``)
and checks at compile time that the field type supports them (``transform_type``). Each entry
here gives the accepted input types, the output type and the function; ``None`` stays ``None``
(N/A), and a value the transformer cannot handle (bad base64) becomes ``None`` too, which makes
the comparison false exactly as a failed libsinsp transformation does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sinsp.fields.registry import FieldType

__all__ = ["TRANSFORMERS", "Transformer", "TransformerTypeError"]

_TEXT = frozenset({FieldType.CHARBUF, FieldType.FSPATH, FieldType.FSRELPATH})
_BYTES = _TEXT | {FieldType.BYTEBUF}


class TransformerTypeError(ValueError):
    """The transformer does not accept the field's type."""


@dataclass(frozen=True, slots=True)
class Transformer:
    name: str
    accepts: frozenset[FieldType]
    fn: Callable[[Any], Any]
    output: FieldType | None = None  # None: same type as the input
    on_list: bool = False  # True: applies to a list as a whole (len), else element-wise

    def out_type(self, in_type: FieldType, is_list: bool) -> tuple[FieldType, bool]:
        """(type, is_list) after the transformer; raises TransformerTypeError."""
        if in_type not in self.accepts and not (self.on_list and is_list):
            raise TransformerTypeError(
                f"can't add field transformer: type '{in_type.value}' is not supported by "
                f"'{self.name}' transformer"
            )
        if self.on_list and is_list:
            return self.output or in_type, False
        return self.output or in_type, is_list


def _lower(v: Any) -> Any:
    return v.lower()


def _upper(v: Any) -> Any:
    return v.upper()


def _b64(v: Any) -> Any:
    data = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v
    try:
        out = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return out.decode("utf-8", "surrogateescape") if isinstance(v, str) else out


def _basename(v: Any) -> Any:
    # libsinsp: the text after the last '/', the whole value when there is none
    return v.rpartition("/")[2] if isinstance(v, str) else v.rpartition(b"/")[2]


def _len(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogateescape"))
    return len(v)


TRANSFORMERS: dict[str, Transformer] = {
    "tolower": Transformer("tolower", _BYTES, _lower),
    "toupper": Transformer("toupper", _BYTES, _upper),
    "b64": Transformer("b64", _BYTES, _b64),
    "basename": Transformer("basename", _TEXT, _basename),
    "len": Transformer("len", _BYTES, _len, FieldType.UINT64, on_list=True),
}
