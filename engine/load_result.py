"""Load results: error/warning codes, location chains and their text/JSON forms.

Falco reports every rules-loading problem as data: a code, a message and a *context*, i.e. the
chain of locations from the file down to the offending token (file -> ``rule 'X'`` -> ``value
for 'condition'`` -> ``condition expression``).  Tools (``-V``, editors, CI) consume the JSON
form, humans the verbose text form.  Both are reproduced here field for field so that the CLI
can print them in Falco's shape.  Warnings are data too: they never raise.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Context",
    "ErrorCode",
    "ItemType",
    "LoadError",
    "LoadResult",
    "LoadWarning",
    "Location",
    "RulesFileResult",
    "WarningCode",
]


class _Described:
    """`text` and `desc` of a code enum whose values are (short text, description); the
    member's name is Falco's code string."""

    __slots__ = ()
    value: tuple[str, str]

    @property
    def text(self) -> str:
        return self.value[0]

    @property
    def desc(self) -> str:
        return self.value[1]


class ErrorCode(_Described, enum.Enum):
    """Falco's ``load_result::error_code``: name = code string, value = (short text,
    description)."""

    LOAD_ERR_FILE_READ = ("File read error",
                          "This occurs when falco can not read a given file. Check permissions "
                          "and whether the file exists.")
    LOAD_ERR_YAML_PARSE = ("YAML parse error",
                           "This occurs when the rules content is not valid YAML.")
    LOAD_ERR_YAML_VALIDATE = ("Error validating internal structure of YAML file",
                              "This occurs when the internal structure of the YAML file is "
                              "incorrect. Examples include not consisting of a sequence of maps, "
                              "a given rule/macro/list item not having required keys, values not "
                              "having the right type (e.g. the items property of a list not being "
                              "a sequence), etc.")
    LOAD_ERR_COMPILE_CONDITION = ("Error compiling condition",
                                  "This occurs when a condition string can not be compiled to a "
                                  "filter object.")
    LOAD_ERR_COMPILE_OUTPUT = ("Error compiling output",
                               "This occurs when an output string can not be compiled to an "
                               "output object.")
    LOAD_ERR_VALIDATE = ("Error validating rule/macro/list/exception objects",
                         "This occurs when a rule/macro/list item is incorrect. Examples include "
                         "a condition field referring to an undefined macro, falco engine/plugin "
                         "version mismatches, items with append without any existing item, "
                         "exception fields/comps having different lengths, etc.")
    LOAD_ERR_EXTENSION = ("Error in extension item",
                          "This occurs when there is an error in an extension item")


class WarningCode(_Described, enum.Enum):
    """Falco's ``load_result::warning_code``: name = code string, value = (short text,
    description)."""

    LOAD_UNKNOWN_SOURCE = ("Unknown event source",
                           "A rule has a unknown event source. This can occur when reading rules "
                           "content without having a corresponding plugin loaded, etc. The rule "
                           "will be silently ignored.")
    LOAD_UNSAFE_NA_CHECK = ("Unsafe <NA> comparison in condition",
                            "Comparing a field value with <NA> is unsafe and can lead to "
                            "unpredictable behavior of the rule condition. If you need to check "
                            "for the existence of a field, consider using the 'exists' operator "
                            "instead.")
    LOAD_NO_EVTTYPE = ("Condition has no event-type restriction",
                       "A rule condition matches too many evt.type values. This has a "
                       "significant performance penalty. Make the condition more specific by "
                       "adding an evt.type field or further restricting the number of evt.type "
                       "values in the condition.")
    LOAD_UNKNOWN_FILTER = ("Unknown field or event-type in condition or output",
                           "A rule condition or output refers to a field or evt.type that does "
                           "not exist. This is normally an error, but if a rule has a "
                           "skip-if-unknown-filter property, the error is downgraded to a "
                           "warning.")
    LOAD_UNUSED_MACRO = ("Unused macro",
                         "A macro is defined in the rules content but is not used by any other "
                         "macro or rule.")
    LOAD_UNUSED_LIST = ("Unused list",
                        "A list is defined in the rules content but is not used by any other "
                        "list, macro, or rule.")
    LOAD_UNKNOWN_ITEM = ("Unknown rules file item",
                         "An unknown top-level object is in the rules content. It will be "
                         "ignored.")
    LOAD_DEPRECATED_ITEM = ("Used deprecated item",
                            "A deprecated item is employed by lists, macros, or rules.")
    LOAD_WARNING_EXTENSION = ("Warning in extension item", "An extension item has a warning")
    LOAD_APPEND_NO_VALUES = ("Overriding/appending with no values",
                             "A rule exception is overriding/appending with no values")
    LOAD_EXCEPTION_NAME_NOT_UNIQUE = ("Multiple exceptions defined with the same name",
                                      "A rule is defining multiple exceptions with the same name")
    LOAD_INVALID_MACRO_NAME = ("Invalid macro name", "A macro is defined with an invalid name")
    LOAD_INVALID_LIST_NAME = ("Invalid list name", "A list is defined with an invalid name")
    LOAD_COMPILE_CONDITION = ("Warning in rule condition",
                              "A rule condition or output have been parsed with a warning")
    LOAD_UNKNOWN_KEY = ("Unknown key in item definition",
                        "An item in the rules content contains an unrecognized key. The key "
                        "will be ignored. This may indicate a typo or a property placed on the "
                        "wrong item type.")


class ItemType(enum.Enum):
    """The item kinds that appear in a location chain, with Falco's spelling."""

    VALUE_FOR = "value for"
    EXCEPTIONS = "exceptions"
    EXCEPTION = "exception"
    EXCEPTION_VALUES = "exception values"
    EXCEPTION_VALUE = "exception value"
    RULES_CONTENT = "rules content"
    RULES_CONTENT_ITEM = "rules content item"
    REQUIRED_ENGINE_VERSION = "required_engine_version"
    REQUIRED_PLUGIN_VERSIONS = "required plugin versions"
    REQUIRED_PLUGIN_VERSIONS_ENTRY = "required plugin versions entry"
    REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE = "required plugin versions alternative"
    LIST = "list"
    LIST_ITEM = "list item"
    MACRO = "macro"
    MACRO_CONDITION = "macro condition"
    RULE = "rule"
    RULE_CONDITION = "rule condition"
    CONDITION_EXPRESSION = "condition expression"
    RULE_OUTPUT = "rule output"
    RULE_OUTPUT_EXPRESSION = "rule output expression"
    RULE_PRIORITY = "rule priority"
    OVERRIDE = "overrides"
    EXTENSION_ITEM = "extension item"


@dataclass(frozen=True, slots=True)
class Location:
    """One step of a context chain.  ``line``/``column`` are 0-based like YAML marks; inside a
    condition they are the YAML position of the condition plus the parser's 1-based position,
    exactly as Falco adds them."""

    name: str           # file name, or a quoted prefix of the condition text
    item_type: ItemType
    item_name: str = ""
    line: int = 0
    column: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Context:
    """A location chain, outermost first.  ``alt_content`` holds the condition text for
    condition contexts, used instead of the file when making the snippet."""

    locations: tuple[Location, ...]
    alt_content: str = ""
    alt_pos: int = 0

    @staticmethod
    def root(name: str) -> Context:
        return Context((Location(name, ItemType.RULES_CONTENT),))

    @property
    def name(self) -> str:
        return self.locations[0].name

    @property
    def last(self) -> Location:
        return self.locations[-1]

    def child(self, item_type: ItemType, item_name: str = "", mark: Any = None) -> Context:
        """A sub-context at a YAML mark (``line``/``column``/``index`` attributes)."""
        line = getattr(mark, "line", 0) if mark is not None else 0
        col = getattr(mark, "column", 0) if mark is not None else 0
        off = getattr(mark, "index", 0) if mark is not None else 0
        loc = Location(self.name, item_type, item_name, line, col, off)
        return Context((*self.locations, loc))

    def condition(self, text: str, pos: int, line: int, col: int) -> Context:
        """A context inside a condition string at the parser's position (1-based line/col)."""
        cond_name = '"' + (text[:17] + '..."' if len(text) > 20 else text + '"')
        cond_name = cond_name.replace("\n", " ").replace("\r", " ")
        last = self.last
        loc = Location(cond_name, ItemType.CONDITION_EXPRESSION, "",
                       last.line + line, last.column + col, last.offset + pos)
        return Context((*self.locations, loc), alt_content=text, alt_pos=pos)

    def as_string(self) -> str:
        out = []
        for i, loc in enumerate(self.locations):
            head = "In " if i == 0 else "    "
            named = f" '{loc.item_name}'" if loc.item_name else ""
            out.append(f"{head}{loc.item_type.value}{named}: ({loc.name}:{loc.line}:"
                       f"{loc.column})\n")
        return "".join(out)

    def as_json(self) -> dict[str, Any]:
        return {"locations": [
            {"item_type": loc.item_type.value, "item_name": loc.item_name,
             "position": {"name": loc.name, "line": loc.line, "column": loc.column,
                          "offset": loc.offset}}
            for loc in self.locations]}

    def snippet(self, contents: Mapping[str, str], width: int = 160) -> str:
        """The line around the last location with a caret under it (Falco's algorithm)."""
        loc = self.last
        if not self.alt_content and loc.name not in contents:
            return f"<No context for file + {loc.name}>\n"
        text = self.alt_content or contents.get(loc.name, "")
        if not text:
            return "<No context available>\n"
        # Falco adds the parent's file offset to the in-condition offset and then indexes the
        # condition text with it, which puts the caret off; we point at the real column.
        pos = self.alt_pos if self.alt_content else loc.offset
        while pos > 0 and (pos >= len(text) or text[pos] == "\n"):
            pos -= 1
        half = width // 2
        start = pos
        while start > 0 and text[start] != "\n" and (pos - start) < half:
            start -= 1
        end = pos
        while end < len(text) - 1 and text[end] != "\n" and (end - pos) < half:
            end += 1
        if start < len(text) and text[start] == "\n":
            start += 1
        if end < len(text) and text[end] == "\n":
            end -= 1
        ret = text[start:end + 1]
        if not ret:
            return "<No context available>\n"
        if pos - start >= half:
            ret = "..." + ret[3:]
        if end - pos >= half:
            ret = ret[:-3] + "..."
        ret += "\n"
        if pos - start <= len(ret) - 1:
            ret += " " * (pos - start) + "^\n"
        return ret


class _Located:
    """`location`: the innermost step of an entry's `context` chain."""

    __slots__ = ()
    context: Context

    @property
    def location(self) -> Location:
        return self.context.last


@dataclass(frozen=True, slots=True)
class LoadError(_Located):
    code: ErrorCode
    message: str
    context: Context


@dataclass(frozen=True, slots=True)
class LoadWarning(_Located):
    code: WarningCode
    message: str
    context: Context


def _entry_json(e: LoadError | LoadWarning, contents: Mapping[str, str]) -> dict[str, Any]:
    ctx = e.context.as_json()
    ctx["snippet"] = e.context.snippet(contents)
    # Falco's error_desc() returns the short string (a known quirk); warning_desc() the long one.
    desc = e.code.text if isinstance(e, LoadError) else e.code.desc
    return {"context": ctx, "code": e.code.name, "codedesc": desc, "message": e.message}


@dataclass(slots=True)
class RulesFileResult:
    """The result of loading one rules file (Falco's ``rule_loader::result``)."""

    name: str
    errors: list[LoadError] = field(default_factory=list)
    warnings: list[LoadWarning] = field(default_factory=list)

    @property
    def successful(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        out = [f"{self.name}: " if self.name else ""]
        out.append("Ok" + (", with warnings" if self.warnings else "") if self.successful
                   else "Invalid")
        if self.errors:
            codes = " ".join(f"{e.code.name} ({e.code.text})" for e in self.errors)
            out.append(f"\n {len(self.errors)} errors: [{codes}]")
        if self.warnings:
            codes = " ".join(f"{w.code.name} ({w.code.text})" for w in self.warnings)
            out.append(f"\n {len(self.warnings)} warnings: [{codes}]")
        return "".join(out)

    def verbose(self, contents: Mapping[str, str]) -> str:
        out = [f"{self.name}: " if self.name else ""]
        out.append("Ok" + (", with warnings" if self.warnings else "") if self.successful
                   else "Invalid")
        for title, entries in (("Errors", self.errors), ("Warnings", self.warnings)):
            if not entries:
                continue
            out.append(f"\n{len(entries)} {title}:\n")
            for e in entries:
                out.append(e.context.as_string())
                out.append("------\n")
                out.append(e.context.snippet(contents))
                out.append("------\n")
                out.append(f"{e.code.name} ({e.code.text}): {e.message}\n")
        return "".join(out)

    def as_json(self, contents: Mapping[str, str]) -> dict[str, Any]:
        return {"name": self.name, "successful": self.successful,
                "errors": [_entry_json(e, contents) for e in self.errors],
                "warnings": [_entry_json(w, contents) for w in self.warnings]}


@dataclass(slots=True)
class LoadResult:
    """Results of one ``load_files``/``load_string`` call: one entry per rules file."""

    files: list[RulesFileResult] = field(default_factory=list)
    contents: dict[str, str] = field(default_factory=dict)

    @property
    def successful(self) -> bool:
        return all(f.successful for f in self.files)

    @property
    def errors(self) -> list[LoadError]:
        return [e for f in self.files for e in f.errors]

    @property
    def warnings(self) -> list[LoadWarning]:
        return [w for f in self.files for w in f.warnings]

    def has_warnings(self) -> bool:
        return any(f.warnings for f in self.files)

    def as_string(self, verbose: bool = True) -> str:
        parts = [f.verbose(self.contents) if verbose else f.summary() for f in self.files]
        return "\n".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {"falco_load_results": [f.as_json(self.contents) for f in self.files]}

    def as_json_string(self) -> str:
        return json.dumps(self.as_json())

    def extend(self, other: Iterable[RulesFileResult]) -> None:
        self.files.extend(other)
