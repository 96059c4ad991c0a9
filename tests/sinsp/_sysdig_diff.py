"""Shared helper: compare our field values with sysdig 0.29.3's, event by event.

``sysdig -D -r FILE -p '*%evt.num<SEP>%f1<SEP>...'`` prints one line per shown
event; we replay the same file through ``Inspector`` and render each field with
the registry. Events sysdig hides (state-only, leading container events) are
hidden by the inspector too, so lines pair up by ``evt.num``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

SEP = "#~#"
END = "#~END~#"
TRACES = Path("/work/shared/traces/syscalls")


def captures() -> list[Path]:
    return sorted(TRACES.glob("*.scap")) if TRACES.is_dir() else []


def have_sysdig() -> bool:
    return shutil.which("sysdig") is not None


def sysdig_rows(path: Path, fields: list[str]) -> dict[int, list[str]]:
    fmt = "*%evt.num" + "".join(f"{SEP}%{f}" for f in fields) + END
    out = subprocess.run(
        ["sysdig", "-D", "-r", str(path), "-p", fmt],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout.decode("utf-8", "surrogateescape")
    rows: dict[int, list[str]] = {}
    # values may contain newlines (environments do): split on our terminator
    for line in out.split(END + "\n"):
        line = line.lstrip("\n")
        parts = line.split(SEP)
        if len(parts) != len(fields) + 1 or not parts[0].isdigit():
            continue
        rows[int(parts[0])] = parts[1:]
    return rows


def our_rows(path: Path, fields: list[str]) -> dict[int, list[str]]:
    import importlib

    for mod in ("fd", "evt"):  # other engineers' classes, when present
        with contextlib.suppress(ImportError):
            importlib.import_module(f"sinsp.fields.{mod}")
    import sinsp.fields.container  # registers the field classes
    import sinsp.fields.proc
    import sinsp.fields.user  # noqa: F401
    from sinsp import Inspector
    from sinsp.fields.registry import REGISTRIES

    reg = REGISTRIES["syscall"]
    resolved = [reg.resolve(f) for f in fields]
    rows: dict[int, list[str]] = {}
    with Inspector.from_capture(path) as insp:
        for evt in insp:
            vals = []
            for info, arg in resolved:
                vals.append(reg.render(info.extract(evt, arg), info))
            rows[evt.num] = vals
    return rows


def sysdig_field_names(classes: set[str]) -> list[str]:
    """Field names ``sysdig -l`` lists in the given field classes."""
    out = subprocess.run(["sysdig", "-l"], check=True, capture_output=True, timeout=60)
    names: list[str] = []
    current = ""
    for line in out.stdout.decode().splitlines():
        if line.startswith("Field Class:"):
            current = line.split(":", 1)[1].split()[0]
            continue
        if current in classes and line and not line[0].isspace() and "." in line.split()[0]:
            names.append(line.split()[0])
    return names


def diff(
    path: Path,
    fields: list[str],
    limit: int = 20,
    normalize: dict[str, Callable[[str], str]] | None = None,
    skip: Callable[[str, dict[str, str]], bool] | None = None,
) -> list[str]:
    """Human-readable mismatches (empty when every value matches).

    ``normalize`` maps a field to a function applied to sysdig's text first
    (for values where 0.29.3 prints uninitialised memory around the real value).
    """
    normalize = normalize or {}
    theirs = sysdig_rows(path, fields)
    ours = our_rows(path, fields)
    problems: list[str] = []
    missing = sorted(set(theirs) - set(ours))
    if missing:
        problems.append(f"events sysdig shows and we do not: {missing[:10]}")
    extra = sorted(set(ours) - set(theirs))
    if extra:
        problems.append(f"events we show and sysdig does not: {extra[:10]}")
    for num in sorted(set(theirs) & set(ours)):
        row = dict(zip(fields, theirs[num], strict=True))
        for f, a, b in zip(fields, theirs[num], ours[num], strict=True):
            if skip is not None and skip(f, row):
                continue
            if f in normalize:
                a = normalize[f](a)
            if a != b:
                problems.append(f"{path.name} evt {num} {f}: sysdig={a!r} ours={b!r}")
                if len(problems) >= limit:
                    return problems
    return problems


def field_groups(fields: Iterable[str], size: int = 12) -> list[list[str]]:
    items = list(fields)
    return [items[i : i + size] for i in range(0, len(items), size)]
