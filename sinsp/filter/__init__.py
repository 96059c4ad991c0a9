"""The sysdig/Falco filter language: parse a condition to an AST, compile it to a Filter.

    from sinsp.filter import parse, compile_filter
    node = parse("proc.name = bash and fd.name startswith /etc")
    flt = compile_filter(node, registry)      # or compile_filter(text, registry)
    flt.matches(evt); flt.event_types         # set of PPME codes, or None for all
"""

from . import ast
from .ast import to_text
from .compiler import Filter, compile_filter, event_types_of
from .errors import FilterCompileError, FilterError, FilterSyntaxError
from .grammar import parse

__all__ = [
    "Filter",
    "FilterCompileError",
    "FilterError",
    "FilterSyntaxError",
    "ast",
    "compile_filter",
    "event_types_of",
    "parse",
    "to_text",
]
