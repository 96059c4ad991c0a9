"""The glob syntax is read once (``sinsp.filter.glob.glob_parts``) for its two consumers:
``glob_to_regex`` (the filter's regex) and ``sinsp.hotpath._glob_tokens`` (the C hot path's
tokens).  The regex matches as the C library's ``fnmatch(pattern, s, 0)`` wherever the two
readings of the syntax agree, and the C tokens match as the regex on every pattern."""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import warnings

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sinsp import hotpath
from sinsp.filter.compiler import glob_to_regex
from sinsp.filter.glob import AnyChar, CharClass, Literal, Star, glob_parts
from sinsp.hotpath import View, is_candidate_path
from sinsp.localpred import Pred, Tri

# any pattern over the characters the syntax cares about, and others
patterns = st.one_of(st.text(alphabet="ab/.*?[]!^-\\x", max_size=10), st.text(max_size=8))
# patterns built of whole pieces, so classes, escapes and wildcards all come up often
_PIECES = ["a", "b", "/", ".", "-", "*", "?", "[", "]", "!", "^", "\\*", "\\?", "\\[",
           "\\a", "[a-b]", "[!a]", "[^/]", "[]a]", "[!]b]"]
piece_patterns = st.lists(st.sampled_from(_PIECES), max_size=7).map("".join)
_CHARS = "ab/.-*?[]!^\\x"
texts = st.one_of(st.text(alphabet=_CHARS, max_size=2), st.text(alphabet=_CHARS, max_size=7))


def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible set difference" on '--' / '&&'
            return glob_to_regex(pattern)
    except re.error:
        return None


@pytest.mark.parametrize(("pattern", "parts"), [
    ("", []),
    ("a*?", [Literal("a"), Star(), AnyChar()]),
    ("\\*\\\\", [Literal("*"), Literal("\\")]),
    ("a\\", [Literal("a"), Literal("\\")]),           # a trailing backslash is literal
    ("[", [Literal("[")]),                            # unclosed: a literal '['
    ("[ab", [Literal("["), Literal("a"), Literal("b")]),
    ("[]a]", [CharClass(False, "]a")]),               # leading ']' is a member
    ("[!]a]x", [CharClass(True, "]a"), Literal("x")]),
    ("[^a-c]", [CharClass(True, "a-c")]),
    ("[]", [Literal("["), Literal("]")]),             # '[]' never closes
    ("[a\\]b]", [CharClass(False, "a\\"), Literal("b"), Literal("]")]),
])
def test_parts(pattern: str, parts: list[object]) -> None:
    assert list(glob_parts(pattern)) == parts


def test_class_regex_keeps_backslash_and_bracket_members() -> None:
    rx = re.compile(CharClass(False, "a\\[").regex())
    assert [c for c in "ab\\[]" if rx.fullmatch(c)] == ["a", "\\", "["]
    assert CharClass(True, "]").regex() == "[^]]"


_LIBC = ctypes.util.find_library("c")


def _glibc_reads_differently(pattern: str) -> bool:
    """Where our reading and glibc's differ (kept as is, the filter's behaviour): glibc lets
    ``\\`` escape inside a bracket expression and fails on a trailing ``\\`` (we take them as
    a member / a literal), and reads ``[.``, ``[=``, ``[:`` in a bracket expression as
    collating elements and classes (we take them as members); an unclosed ``[`` followed by
    a ``[.`` or by a ``-`` ending the pattern does not match itself in glibc."""
    if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
        return True
    if "[" in pattern and ("[." in pattern or pattern.endswith("-")):
        return True
    return any(isinstance(p, CharClass) and ("\\" in p.body or "[" in p.body)
               for p in glob_parts(pattern))


@pytest.mark.skipif(_LIBC is None, reason="no C library to compare with")
@settings(max_examples=1500, deadline=None)
@given(piece_patterns, texts)
def test_regex_matches_as_libc_fnmatch(pattern: str, text: str) -> None:
    assume(not _glibc_reads_differently(pattern))
    rx = _regex(pattern)
    assume(rx is not None)  # a class Python's re rejects (e.g. a range 'a-['): C is not asked
    assert rx is not None
    fnmatch = ctypes.CDLL(_LIBC).fnmatch
    want = fnmatch(pattern.encode(), text.encode(), 0) == 0
    assert (rx.fullmatch(text) is not None) is want, (pattern, text)


@settings(max_examples=600, deadline=None)
@given(st.one_of(patterns, piece_patterns))
def test_tokens_exist_exactly_when_the_regex_compiles(pattern: str) -> None:
    tokens = hotpath._glob_tokens(pattern)
    assert (tokens is None) is (_regex(pattern) is None)
    if tokens is not None:  # one token per part: tag byte + 1 literal byte or a 16-byte map
        assert len(tokens) == sum(1 if isinstance(p, (Star, AnyChar)) else
                                  17 if isinstance(p, CharClass) or ord(p.char) >= 128 else 2
                                  for p in glob_parts(pattern))


@pytest.mark.skipif(not hotpath.available(),
                    reason=f"hot path not built: {hotpath.import_error()}")
@settings(max_examples=400, deadline=None)
@given(st.one_of(patterns, piece_patterns), st.lists(texts, min_size=1, max_size=4))
def test_c_tokens_match_as_the_regex(pattern: str, names: list[str]) -> None:
    rx = _regex(pattern)
    assume(rx is not None)
    assert rx is not None
    prog = hotpath.compile_program({307: Pred("fd.name", "glob", (pattern,))})
    assert prog is not None and 307 in prog.types
    for name in names:
        path = "/" + name
        if not is_candidate_path(path):
            continue
        want = Tri.TRUE if rx.fullmatch(path) else Tri.FALSE
        assert prog.eval_view(View(307, path=path, flags=1, fd=3)) is want, (pattern, path)
