"""Reading k8s audit events from files: JSON lines, one JSON document, an EventList, a directory.

The API server's log backend writes one Event per line (JSON lines), and that is what the
k8saudit plugin reads from a file. Saved webhook payloads and hand-written samples are often a
single (possibly pretty-printed) document instead: an Event, an EventList or an array. The
reader takes both: lines are parsed one by one; when the first document does not fit on its
line, the whole file is parsed as one JSON document (bounded by ``max_document_size``).

A directory is read file by file in modification-time order (the plugin's order), each file
as above. Errors never stop the stream silently: each bad document becomes an
:class:`AuditFormatError` with the file and line; with ``on_error`` they are handed over and
reading goes on, without it the first one is raised after every event before it was yielded.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Callable, Iterator
from typing import IO

from sinsp.k8saudit.event import (
    DEFAULT_MAX_EVENT_SIZE,
    AuditEvent,
    AuditFormatError,
    parse_value,
)

__all__ = ["DEFAULT_MAX_DOCUMENT_SIZE", "AuditFileReader", "read_audit_events"]

# the plugin's webhookMaxBatchSize: the largest single payload it accepts (12 MiB)
DEFAULT_MAX_DOCUMENT_SIZE = 12 * 1024 * 1024

ErrorHandler = Callable[[AuditFormatError], None]


class AuditFileReader:
    """Iterate the events of one file, a directory, or a text stream.

    ``events_read``/``errors`` count what was seen; event numbers (``num``) are given in
    order from ``first_num``.
    """

    def __init__(self, source: str | os.PathLike[str] | IO[str], *,
                 on_error: ErrorHandler | None = None,
                 max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
                 max_document_size: int = DEFAULT_MAX_DOCUMENT_SIZE,
                 first_num: int = 1) -> None:
        self.source = source
        self.on_error = on_error
        self.max_event_size = max_event_size
        self.max_document_size = max_document_size
        self.next_num = first_num
        self.events_read = 0
        self.errors = 0

    # -- public -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[AuditEvent]:
        src = self.source
        if isinstance(src, (str, os.PathLike)):
            path = os.fspath(src)
            if os.path.isdir(path):
                yield from self._directory(path)
            else:
                yield from self._file(path)
        else:
            yield from self._stream(src, getattr(src, "name", "<stream>"))

    # -- internals ----------------------------------------------------------------------

    def _directory(self, path: str) -> Iterator[AuditEvent]:
        entries = []
        for name in os.listdir(path):
            full = os.path.join(path, name)
            if os.path.isfile(full):
                entries.append((os.stat(full).st_mtime_ns, name, full))
        for _, _, full in sorted(entries):
            yield from self._file(full)

    def _file(self, path: str) -> Iterator[AuditEvent]:
        try:
            fh = open(path, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
        except OSError as e:
            raise AuditFormatError(f"cannot open: {e.strerror}", path) from None
        with fh:
            yield from self._stream(fh, path)

    def _fail(self, err: AuditFormatError) -> None:
        self.errors += 1
        if self.on_error is None:
            raise err
        self.on_error(err)

    def _emit(self, value: object, where: str, line: int,
              size_hint: int | None = None) -> Iterator[AuditEvent]:
        try:
            res = parse_value(value, self.max_event_size, size_hint)
        except AuditFormatError as e:
            self._fail(AuditFormatError(e.message, where, line))
            return
        for evt in res.events:
            evt.num = self.next_num
            self.next_num += 1
            self.events_read += 1
            yield evt
        for err in res.errors:
            self._fail(type(err)(err.message, where, line))

    def _stream(self, fh: IO[str], where: str) -> Iterator[AuditEvent]:
        lineno = 0
        for line in fh:  # the first non-blank line decides: JSON lines or one document
            lineno += 1
            if line.strip():
                break
        else:
            return
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as e:
            rest = fh.read(self.max_document_size + 1 - len(line))
            if len(line) + len(rest) <= self.max_document_size:
                try:
                    value = json.loads(line + rest)
                except (ValueError, RecursionError):
                    pass
                else:
                    yield from self._emit(value, where, lineno, _size(line) + _size(rest))
                    return
            # neither: report this line and go on with the next ones
            self._fail(AuditFormatError(_json_error(e), where, lineno))
            yield from self._lines(itertools.chain(io.StringIO(rest), fh), where, lineno)
            return
        yield from self._emit(value, where, lineno, _size(line))
        yield from self._lines(fh, where, lineno)

    def _lines(self, lines: Iterator[str], where: str, lineno: int) -> Iterator[AuditEvent]:
        for line in lines:
            lineno += 1
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as e:
                self._fail(AuditFormatError(_json_error(e), where, lineno))
                continue
            yield from self._emit(value, where, lineno, _size(line))


def _size(text: str) -> int:
    """UTF-8 length of text, without encoding it (an upper bound is enough)."""
    return len(text) if text.isascii() else 4 * len(text)


def _json_error(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "malformed JSON: nested too deeply"
    return f"malformed JSON: {e}"


def read_audit_events(source: str | os.PathLike[str] | IO[str], *,
                      on_error: ErrorHandler | None = None,
                      max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> Iterator[AuditEvent]:
    """Events of a file, directory or text stream (see :class:`AuditFileReader`)."""
    return iter(AuditFileReader(source, on_error=on_error, max_event_size=max_event_size))
