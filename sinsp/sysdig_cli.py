"""``pysysdig``: read a capture, filter it, print it like sysdig 0.29.3 or write it back.

    pysysdig -r trace.scap                          # sysdig's default line per event
    pysysdig -r trace.scap -p '*%evt.num %fd.name' evt.type=open
    pysysdig -r trace.scap -j proc.name=cat         # JSON lines
    pysysdig -r trace.scap -w out.scap -z fd.typechar=4
    pysysdig -w live.scap -M 10 proc.name=curl     # live, from the eBPF probe (root)
    pysysdig evt.type=execve                        # live lines until Ctrl-C

Output is meant to be comparable line by line with ``sysdig -r`` on the same arguments:
internal events (``procinfo``, ``container`` ...) are hidden unless ``-D``; ``-n`` counts
the events that pass the filter, shown or not; ``-w`` keeps internal events whatever the
filter says (sysdig does, so state survives in the new file).

Click lives only here; the work is done by :func:`run`, which tests call directly.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

import click

from sinsp import format as fmt

__all__ = ["LiveCaptureError", "LiveSession", "Sysdig0293Writer", "SysdigOptions", "main", "run"]

EC_INTERNAL = 256


@dataclass(frozen=True, slots=True)
class SysdigOptions:
    """What the command line asked for."""

    read: str | None = None
    write: str | None = None
    format: str | None = None
    max_events: int = 0
    json: bool = False
    compress: bool = False
    debug: bool = False
    verbose: bool = False
    buffer_format: str = fmt.BufferFormat.DOTS
    time_flag: str = "h"
    filter: str = ""
    duration: float = 0.0
    #: render the default line in C when it applies (``sinsp._printer``); False forces the
    #: Python loop (the tests compare both)
    native: bool = True


def _internal_types() -> frozenset[int]:
    """Event types whose 0.29.3 category is EC_INTERNAL (hidden without ``-D``)."""
    from scap import schema

    return frozenset(
        etype
        for etype in range(len(schema.EVENT_INFO))
        if (info := fmt.display_info(etype)) is not None and int(info.category) & EC_INTERNAL
    )


#: fields whose value depends on events before the shown one (first timestamp, the previous
#: event, the paired enter): a prefilter that drops hidden events would change them
_ORDER_DEPENDENT = ("reltime", "latency", "delta")


def _hidden_prefilter(opts: SysdigOptions, flt: Any, internal: frozenset[int]) -> Any:
    """Event types to open the capture with when printing without a filter: every type but
    the internal ones nobody sees without ``-D`` (procinfo is half of a typical capture);
    the state layer adds back what it needs.  None (read everything) when that could change
    the output."""
    from scap import schema

    text = opts.format if opts.format is not None else fmt.DEFAULT_FORMAT
    if (opts.read is None or opts.write is not None or opts.debug or flt is not None
            or opts.time_flag not in ("h", "a")
            or any(word in text for word in _ORDER_DEPENDENT)):  # fmt: skip
        return None
    return [t for t in range(len(schema.EVENT_INFO)) if t not in internal]


def _file_records(cap: Any) -> Any:
    """A capture's records with its batches chained in C (no generator frame per record)."""
    from itertools import chain

    batches = getattr(cap, "batches", None)
    return chain.from_iterable(batches()) if batches is not None else cap


def run(opts: SysdigOptions, out: IO[str] | None = None) -> int:
    """Process one capture (or the live probe when ``opts.read`` is None); returns the exit
    status. Output goes to ``out`` (stdout)."""
    from scap.schema import EVENT_INFO_0_29_3_COUNT
    from sinsp import Inspector
    from sinsp.fields import evt as evt_fields
    from sinsp.parsers.prefilter import output_fields

    out = out if out is not None else sys.stdout
    registry = fmt.default_registry()
    flt = None
    if opts.filter.strip():
        from sinsp.filter import compile_filter

        flt = compile_filter(opts.filter, registry)
    internal = _internal_types()
    ropts = fmt.RenderOptions(
        buffer_format=opts.buffer_format,
        max_buf_len=0 if opts.verbose else 80,
        json=opts.json,
        time_flag=opts.time_flag,
    )
    writer = None
    formatter = None
    live = None
    shown_types = _hidden_prefilter(opts, flt, internal)
    if opts.read is None:
        live = LiveSession(opts, flt)
        insp = Inspector(live.source)
        records: Any = live.records()
    elif shown_types is not None:
        text = opts.format if opts.format is not None else fmt.DEFAULT_FORMAT
        insp = Inspector.from_capture(opts.read, event_types=shown_types,
                                      fields=output_fields(text))
        records = _file_records(insp.source)
    else:
        insp = Inspector.from_capture(opts.read)
        records = _file_records(insp.source)
    try:
        if opts.write is not None:
            writer = _open_writer(opts.write, opts, insp)
            if live is not None:
                writer = live.writer = Sysdig0293Writer(writer)
        else:
            text = opts.format if opts.format is not None else fmt.DEFAULT_FORMAT
            formatter = fmt.Formatter(text, registry, ropts)
        count = 0
        limit = opts.max_events
        matches = flt.matches if flt is not None else None
        # the filter can only hold for these types: cheaper than evaluating it (Falco does
        # the same with its per-type rule index)
        wanted = getattr(flt, "event_types", None) if flt is not None else None
        if live is not None and wanted is not None:
            # live, syscalls the probe has no filler for come as the generic event
            from scap.engines.bpf import widen_for_generic

            wanted = widen_for_generic(wanted)
        render = None
        if formatter is not None:
            render = formatter.render_json if opts.json else formatter.render
        write = out.write
        first = True
        debug = opts.debug
        observe = None
        if "latency" in opts.filter or (formatter is not None and (
            opts.time_flag == "d"
            or any(t[1] is not None and t[1].name in evt_fields.LATENCY_FIELDS
                   for t in formatter.tokens)
        )):  # fmt: skip
            observe = evt_fields.latency_tracker(insp).observe
        buf: list[str] = []
        append = buf.append
        process = insp.process
        newest = EVENT_INFO_0_29_3_COUNT if live is None else 1 << 16
        # with the hidden-type prefilter, the dropped events (internal ones, all passing
        # the absent filter) still count for -n: the gaps in the records' seq
        last_seq = -1 if shown_types is not None else None
        if (shown_types is not None and render is not None and observe is None
                and matches is None):  # fmt: skip
            if _native_applies(opts, insp):
                from sinsp import _printer

                _printer.print_default(insp, render, out, internal, limit)
            else:
                _print_prefiltered(insp, records, render, out, internal, limit)
            records = ()

        for rec in records:
            if rec is None:  # live: the end of a ring batch, show what it printed
                if buf:
                    write("\n".join(buf) + "\n")
                    buf.clear()
                    out.flush()
                continue
            if last_seq is not None:
                count += rec.seq - last_seq - 1
                last_seq = rec.seq
                if limit and count >= limit:
                    break
            if rec.type >= newest:
                # sysdig 0.29.3's libscap drops types past its table: no number, no state
                # (-w keeps them, so the copy loses nothing a newer reader could use); live,
                # the probe's current-libs events (accept4, ...) are shown with their names
                if writer is not None:
                    writer.write_event(rec)
                continue
            evt = process(rec)
            if evt is None:  # consumed by sinsp (leading container events, state-only)
                if writer is not None:
                    writer.write_event(rec)
                continue
            if first:
                evt_fields.note_first_ts(insp, rec.ts)
                first = False
            if observe is not None:
                observe(evt)
            is_internal = rec.type in internal
            # sinsp returns filtered-out internal events anyway when they are enabled (-D)
            if matches is not None and not (debug and is_internal) and (
                (wanted is not None and rec.type not in wanted) or not matches(evt)
            ):
                if writer is not None and is_internal:
                    writer.write_event(rec)
                continue
            count += 1
            if writer is not None:
                writer.write_event(rec)
            elif debug or not is_internal:
                line = render(evt)  # type: ignore[misc]
                if line is not None:
                    append(line)
                    if len(buf) >= 1024:
                        write("\n".join(buf) + "\n")
                        buf.clear()
            if limit and count >= limit:
                break
        if buf:
            write("\n".join(buf) + "\n")
    finally:
        if writer is not None:
            writer.close()
        if live is not None:
            live.close()
        else:
            insp.close()
    return 0


def _native_applies(opts: SysdigOptions, insp: Any) -> bool:
    """Whether the C printer can print this run: sysdig's default line (no -p/-j/-v, the
    default buffer and time formats) from a capture read by the C scanner."""
    if not opts.native or opts.format is not None or opts.json or opts.verbose:
        return False
    if opts.time_flag != "h" or opts.buffer_format != fmt.BufferFormat.DOTS:
        return False
    from sinsp import _printer

    return (_printer.available() and getattr(insp.source, "native", False)
            and hasattr(insp.source, "raw_batches"))


def _print_prefiltered(insp: Any, records: Any, render: Any, out: IO[str],
                       internal: frozenset[int], limit: int) -> None:
    """The loop of ``run`` for the common case (a capture printed with no filter, internal
    events dropped by the prefilter): same output, fewer checks per event."""
    from scap.schema import EVENT_INFO_0_29_3_COUNT
    from sinsp.fields import evt as evt_fields

    write = out.write
    process = insp.process
    buf: list[str] = []
    append = buf.append
    count = 0
    last_seq = -1
    first = True
    for rec in records:
        seq = rec.seq
        count += seq - last_seq  # this event and the hidden ones dropped before it
        last_seq = seq
        etype = rec.type
        if etype >= EVENT_INFO_0_29_3_COUNT:
            count -= 1  # not numbered, not counted
            continue
        if limit and count > limit:
            break
        evt = process(rec)
        if evt is None:
            count -= 1
            continue
        if first:
            evt_fields.note_first_ts(insp, rec.ts)
            first = False
        if etype not in internal:
            line = render(evt)
            if line is not None:
                append(line)
                if len(buf) >= 1024:
                    write("\n".join(buf) + "\n")
                    buf.clear()
        if limit and count >= limit:
            break
    if buf:
        write("\n".join(buf) + "\n")


class LiveCaptureError(RuntimeError):
    """Live capture cannot start: `stage` says where (``root``, ``build``, ``load`` ...)."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"live capture failed ({stage}): {message}")
        self.stage = stage


class LiveSession:
    """The probe as pysysdig's event source: opened with the in-kernel syscall table the
    filter allows (plus the state syscalls), stopped by SIGINT/SIGTERM or the ``-M``
    duration.  ``records()`` yields the ring's records and ``None`` after each batch (the
    printer flushes there, so lines appear while the system is idle)."""

    def __init__(self, opts: SysdigOptions, flt: Any) -> None:
        import errno
        import os

        from scap.engines.bpf import (
            STATE_SYSCALLS,
            BpfSource,
            DriverError,
            extras_for,
            syscalls_for_event_types,
        )

        if os.geteuid() != 0:
            raise LiveCaptureError("root", "reading live events from the eBPF probe needs "
                                   "root; use -r FILE to read a capture")
        syscalls = None
        extras: tuple[str, ...] = ()
        if flt is not None:
            from sinsp.parsers.prefilter import filter_prefilter

            types = filter_prefilter(flt, opts.format)
            syscalls = syscalls_for_event_types(types)
            extras = extras_for(types)  # sched_switch for a filter on evt.type=switch
        #: what the kernel was asked for (None: every syscall), after the state set is added
        self.syscalls: set[str] | None = None
        self.duration = opts.duration
        self.writer: Sysdig0293Writer | None = None
        self._old: dict[int, Any] = {}
        try:
            # drop_self: our own writes to stdout would otherwise feed the capture
            self.source = BpfSource(syscalls, drop_self=True, poll_timeout_ms=50,
                                    extras=extras).open()
        except DriverError as exc:
            if exc.errno == errno.ENOENT:
                raise LiveCaptureError(exc.stage, f"{exc}; build the probe with `make probe` "
                                       "(needs clang, bpftool and libbpf-dev)") from exc
            raise LiveCaptureError(exc.stage, str(exc)) from exc
        # what BpfSource sends with_state: the names asked for plus its state set
        self.syscalls = None if syscalls is None else set(syscalls) | set(STATE_SYSCALLS)

    def _stop(self, signum: int, frame: Any) -> None:
        self.source.stop()

    def records(self) -> Any:
        import contextlib
        import signal
        import time

        for sig in (signal.SIGINT, signal.SIGTERM):
            # not the main thread (tests): -M / -n still stop it
            with contextlib.suppress(ValueError):
                self._old[sig] = signal.signal(sig, self._stop)
        deadline = time.monotonic() + self.duration if self.duration > 0 else None
        for batch in self.source.batches():
            yield from batch
            yield None
            if deadline is not None and time.monotonic() >= deadline:
                break

    def close(self) -> None:
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        self.source.close()
        if self.writer is not None:
            sys.stderr.write(self.writer.summary() + "\n")


#: the clone family's exit types, where the child's side (res 0) has no enter of its own
_CLONE_NAMES = frozenset({"clone", "fork", "vfork", "clone3"})


def _is_clone_child_exit(rec: Any) -> bool:
    """A child's return from clone/fork/vfork/clone3 (res = 0): real drivers write no enter
    for it (the child never entered the syscall), and a rebuilt one makes sysdig 0.29.3 start
    an empty thread for the child when its record comes before the parent's."""
    from scap import schema

    if not rec.type & 1 or rec.nparams < 1:
        return False
    info = schema.event_info(rec.type)
    if info is None or info.name not in _CLONE_NAMES:
        return False
    return bool(rec.param(0) == 0)


class Sysdig0293Writer:
    """Writes live records so that sysdig 0.29.3 reads the file back.

    The probe records exits only, in current libs' numbering.  Records 0.29.3 cannot take
    (types >= 336, which end its reading; generic events whose syscall id is past its table,
    which crash it: ``scap.engines.bpf.readable_by_sysdig_0_29_3``) are dropped and counted.
    Every other exit gets its enter event written first, rebuilt from the exit's params of
    the same name (current exits carry the enter's arguments): 0.29.3 takes an exit's fd, and
    builds socket fds, from the enter event, so without it ``fd.name`` of socket calls would
    be empty in sysdig.  An enter whose params are not all in the exit is not invented."""

    def __init__(self, writer: Any) -> None:
        self._w = writer
        self.written = 0
        self.dropped_types = 0
        self.dropped_generic = 0
        self.enters_added = 0
        self._plans: dict[int, tuple[int, list[int]] | None] = {}

    def _enter_plan(self, etype: int) -> tuple[int, list[int]] | None:
        """(enter type, exit param index per enter param), or None if not rebuildable."""
        from scap import schema

        if etype in self._plans:
            return self._plans[etype]
        plan = None
        if etype & 1 and etype not in (1, ) and etype < schema.EVENT_INFO_0_29_3_COUNT:
            enter = schema.EVENT_INFO_0_29_3[etype - 1]
            exit_names = [p.name for p in schema.EVENT_INFO_CURRENT[etype].params]
            idx = [exit_names.index(p.name) if p.name in exit_names else -1
                   for p in enter.params]
            if -1 not in idx:
                plan = (etype - 1, idx)
        self._plans[etype] = plan
        return plan

    def write_event(self, rec: Any) -> None:
        import struct

        from scap import schema
        from scap.engines.bpf import readable_by_sysdig_0_29_3
        from scap.record import EventRecord

        if not readable_by_sysdig_0_29_3(rec):
            if rec.type >= schema.EVENT_INFO_0_29_3_COUNT:
                self.dropped_types += 1
            else:
                self.dropped_generic += 1
            return
        plan = self._enter_plan(rec.type)
        if plan is not None and all(i < rec.nparams for i in plan[1]) \
                and not _is_clone_child_exit(rec):
            etype, idx = plan
            params = [rec.rawparam(i) for i in idx]
            body = b"".join(params)
            size = 26 + 2 * len(params) + len(body)
            raw = struct.pack(f"<QqIHI{len(params)}H", rec.ts, rec.tid, size, etype,
                              len(params), *(len(x) for x in params)) + body
            self._w.write_event(EventRecord.from_raw(raw, cpu=rec.cpu))
            self.enters_added += 1
        self._w.write_event(rec)
        self.written += 1

    def close(self) -> None:
        self._w.close()

    def summary(self) -> str:
        dropped = self.dropped_types + self.dropped_generic
        return (f"pysysdig: wrote {self.written} events (+{self.enters_added} enter events "
                f"rebuilt from exits); dropped {dropped} that sysdig 0.29.3 cannot read "
                f"({self.dropped_types} of types >= 336, {self.dropped_generic} generic "
                "past its syscall table)")


def _open_writer(path: str, opts: SysdigOptions, insp: Any) -> Any:
    """A ``scap.Writer`` to ``path`` (``-w``) carrying the source capture's metadata blocks."""
    import scap

    src = insp.source
    w = scap.Writer(path, compress=opts.compress)
    w.write_header(
        machine=getattr(src, "machine", None),
        interfaces=getattr(src, "interfaces", None) or [],
        users=getattr(src, "users", None) or [],
        groups=getattr(src, "groups", None) or [],
        processes=getattr(src, "processes", None) or [],
    )
    return w


def list_fields(out: IO[str]) -> None:
    """``-l``: every field class and field, laid out like ``sysdig -l``."""
    registry = fmt.default_registry()
    for cls in registry.classes:
        fields = [f for f in cls.fields if not f.hidden]
        if not fields:
            continue
        out.write("-------------------------------\n")
        out.write(f"{'Field Class:':<30}{cls.name}\n{'Description:':<30}{cls.desc}\n\n")
        for f in fields:
            name = f.display or f.name
            sep = "\n" + " " * 30 if len(name) >= 30 else " " * (30 - len(name))
            out.write(f"{name}{sep}{f.desc}\n")
        out.write("\n")


def _list_and_exit(ctx: click.Context, _param: Any, value: bool) -> None:
    if value:
        list_fields(sys.stdout)
        ctx.exit()


#: sysdig's named formats: ``-pc``/``-pcontainer`` and ``-pk``/``-pkubernetes`` (as its
#: --help spells them; "*" because sysdig 0.29.3 prints their N/A fields as <NA>)
_CONTAINER_FORMAT = ("*%evt.num %evt.outputtime %evt.cpu %container.name (%container.id) "
                     "%proc.name (%thread.tid:%thread.vtid) %evt.dir %evt.type %evt.info")
_K8S_FORMAT = _CONTAINER_FORMAT.replace("%container.name", "%k8s.pod.name", 1)
_NAMED_FORMATS = {"c": _CONTAINER_FORMAT, "container": _CONTAINER_FORMAT,
                  "k": _K8S_FORMAT, "kubernetes": _K8S_FORMAT}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-l", "--list", "list_", is_flag=True, is_eager=True, expose_value=False,
              callback=_list_and_exit,
              help="List the fields usable in filters and -p formats, and exit.")
@click.option("-r", "--read", "read", metavar="FILE",
              help="Read events from a capture file (.scap, gzipped or not); without it, "
                   "capture live from the pyfalco eBPF probe (root).")
@click.option("-M", "duration", type=float, default=0.0, metavar="SECONDS",
              help="Live: stop after this many seconds.")
@click.option("-w", "--write", "write", metavar="FILE",
              help="Write the matching events to a new capture instead of printing them.")
@click.option("-z", "--compress", is_flag=True, help="Compress the -w output with gzip.")
@click.option("-p", "--print", "format_", metavar="FORMAT",
              help="Output format, e.g. '*%evt.num %proc.name %fd.name' (* = print N/A fields).")
@click.option("-n", "--numevents", "max_events", type=int, default=0,
              help="Stop after this many events (that pass the filter).")
@click.option("-j", "--json", "json_", is_flag=True, help="Print events as JSON objects.")
@click.option("-D", "--debug", is_flag=True,
              help="Also print internal events (procinfo, container).")
@click.option("-v", "--verbose", is_flag=True, help="Print data buffers whole (no 80-char cut).")
@click.option("-b", "--print-base64", "base64_", is_flag=True, help="Print data buffers in base64.")
@click.option("-x", "--print-hex", "hex_", is_flag=True, help="Print data buffers in hex.")
@click.option("-X", "--print-hex-ascii", "hexascii", is_flag=True,
              help="Print data buffers in hex and ASCII.")
@click.option("-A", "--print-ascii", "ascii_", is_flag=True,
              help="Print only the printable text of buffers.")
@click.option("-t", "--timetype", "time_flag", type=click.Choice(["h", "a", "r", "d", "D"]),
              default="h", help="Time format of %evt.outputtime (h, a, r, d, D as sysdig).")
@click.argument("filter_", nargs=-1, metavar="[FILTER]")
def main(read: str | None, duration: float, write: str | None, compress: bool,
         format_: str | None, max_events: int, json_: bool, debug: bool, verbose: bool,
         base64_: bool, hex_: bool, hexascii: bool, ascii_: bool, time_flag: str,
         filter_: Sequence[str]) -> None:  # fmt: skip
    """sysdig-compatible reader: pysysdig [-r FILE] [options] [FILTER] (no -r: live)."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")  # raw bytes of params pass through
    bufmode = fmt.BufferFormat.DOTS
    if base64_:
        bufmode = fmt.BufferFormat.BASE64
    elif hexascii:
        bufmode = fmt.BufferFormat.HEXASCII
    elif hex_:
        bufmode = fmt.BufferFormat.HEX
    elif ascii_:
        bufmode = fmt.BufferFormat.ASCII
    format_ = _NAMED_FORMATS.get(format_, format_) if format_ is not None else None
    opts = SysdigOptions(
        read=read, write=write, format=format_, max_events=max_events, json=json_,
        compress=compress, debug=debug, verbose=verbose, buffer_format=bufmode,
        time_flag=time_flag, filter=" ".join(filter_), duration=duration,
    )  # fmt: skip
    try:
        code = run(opts)
    except BrokenPipeError:
        code = 0
    except (fmt.FormatError, ValueError, OSError, LiveCaptureError) as exc:
        click.echo(f"pysysdig: {exc}", err=True)
        code = 1
    except Exception as exc:  # typed errors of the lower layers carry their location
        name = type(exc).__name__
        if name.endswith("Error"):
            click.echo(f"pysysdig: {name}: {exc}", err=True)
            code = 1
        else:
            raise
    sys.stdout.flush()
    raise SystemExit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
