"""``--list [SOURCE]``: the field classes of each source, laid out as libsinsp's
``filter_fieldclass_info::as_string`` (30-column left block, descriptions wrapped at 120) or as
Markdown (``--markdown``), or names only (``-N``)."""
from __future__ import annotations

import io
from typing import Any

RIGHTBLOCK = 30
WIDTH = 120


def _registries() -> dict[str, Any]:
    """Every field module of ``sinsp.fields`` registers its classes when imported."""
    import importlib
    import pkgutil

    import sinsp.fields as fields_pkg
    from sinsp.fields.registry import REGISTRIES

    for mod in pkgutil.iter_modules(fields_pkg.__path__):
        importlib.import_module(f"sinsp.fields.{mod.name}")
    return REGISTRIES


def _wrap(text: str, os_: io.StringIO) -> None:
    length = 0
    for word in text.split():
        wl = len(word) + 1
        if length + wl <= WIDTH - RIGHTBLOCK:
            length += wl
        else:
            os_.write("\n" + " ".ljust(RIGHTBLOCK))
            length = wl
        os_.write(word + " ")


def _type_name(f: Any) -> str:
    t = getattr(f.type, "value", f.type)
    return str(t)


def render(source: str | None, *, names_only: bool = False, markdown: bool = False,
           verbose: bool = False) -> str:
    regs = _registries()
    if source is not None and source not in regs:
        raise KeyError(source)
    sources = [source] if source else list(regs)
    out = io.StringIO()
    for src in sources:
        reg = regs[src]
        for cls in reg.classes:
            fields = [f for f in cls.fields if not getattr(f, "hidden", False)]
            if not fields:
                continue
            if names_only:
                for f in fields:
                    out.write(f"{f.display or f.name}\n")
                continue
            if markdown:
                out.write(f"## Field Class: {cls.name}\n\n")
                if cls.desc:
                    out.write(f"{cls.desc}\n\n")
                out.write(f"Event Sources: {src} \n\n")
                out.write("Name | Type | Description\n:----|:-----|:-----------\n")
                for f in fields:
                    t = _type_name(f)
                    if f.is_list:
                        t = f"LIST({t})"
                    out.write(f"`{f.display or f.name}` | {t} | {f.desc}\n")
                out.write("\n")
                continue
            out.write("-------------------------------\n")
            out.write("Field Class:".ljust(RIGHTBLOCK) + cls.name + "\n")
            if cls.desc:
                out.write("Description:".ljust(RIGHTBLOCK))
                _wrap(cls.desc, out)
                out.write("\n")
            out.write("Event Sources:".ljust(RIGHTBLOCK) + src + " \n\n")
            for f in fields:
                name = f.display or f.name
                if len(name) > RIGHTBLOCK:
                    out.write(name + "\n" + " ".ljust(RIGHTBLOCK))
                else:
                    out.write(name.ljust(RIGHTBLOCK))
                desc = f.desc
                if getattr(f, "filter_only", False):
                    desc = "(FILTER ONLY) " + desc
                if verbose:
                    desc = f"(Type: {_type_name(f)}) " + desc
                _wrap(desc, out)
                out.write("\n")
            out.write("\n")
    return out.getvalue()
