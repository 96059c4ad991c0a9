"""The ``pyfalco`` command line (click only): Falco's flags, checked for Falco's conflicts, turned
into ``app.Options``; ``app.run`` does the rest. Errors print as Falco prints them
(``Error: <message>`` on stderr, exit status 1)."""
from __future__ import annotations

import os
import sys

import click

from falco_cli import __version__, app, log


def _fail(msg: str) -> None:
    sys.stderr.write(f"Error: {msg}\n")
    sys.exit(1)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
               help="pyfalco - Cloud Native Runtime Security, in Python (a drop-in for falco).")
@click.option("-c", "conf", metavar="<path>",
              help="Configuration file. If not specified uses /etc/falco/falco.yaml, else the "
                   "packaged default.")
@click.option("-A", "all_events", is_flag=True, help="Monitor all events: in a live capture, "
              "trace every syscall instead of only those the rules need (a replay always sees "
              "every captured event).")
@click.option("-b", "--print-base64", "base64", is_flag=True,
              help="Print data buffers in base64 (accepted, not supported).")
@click.option("-d", "--daemon", "daemon", is_flag=True, help="Run as a daemon (not supported).")
@click.option("--disable-source", "disable_sources", multiple=True, metavar="<event_source>",
              help="Disable a specific event source. Can not be mixed with --enable-source.")
@click.option("--enable-source", "enable_sources", multiple=True, metavar="<event_source>",
              help="Enable a specific event source. Can not be mixed with --disable-source.")
@click.option("--dry-run", is_flag=True, help="Run without processing events: checks config "
              "and rules.")
@click.option("-D", "disabled_rule_substrings", multiple=True, metavar="<substring>",
              help="Disable any rules with names having the substring <substring>. Can not be "
                   "mixed with -t.")
@click.option("-e", "trace_filename", metavar="<events_file>",
              help="Read the events from a trace file <events_file> in .scap format instead of "
                   "tapping into live.")
@click.option("-L", "describe_all", is_flag=True, help="Show the name and description of all "
              "rules and exit. With json_output, details of all rules, macros and lists.")
@click.option("-l", "describe_rule", metavar="<rule>", help="Show the name and description of "
              "the rule with name <rule> and exit.")
@click.option("--list", "list_source", is_flag=False, flag_value="", default=None,
              metavar="<source>", help="List all defined fields. If <source> is provided, only "
              "list those fields for the source <source> (syscall, k8s_audit).")
@click.option("--markdown", is_flag=True, help="With --list, print in Markdown format.")
@click.option("-M", "duration", type=float, default=0, metavar="<num_seconds>",
              help="Stop collecting after <num_seconds> reached.")
@click.option("--modern-bpf", "modern_bpf", is_flag=True,
              help="Use the eBPF probe (same as -o engine.kind=modern_ebpf).")
@click.option("-N", "names_only", is_flag=True, help="When used with --list, only print field "
              "names.")
@click.option("--nodriver", is_flag=True, help="Do not use a driver to instrument the kernel.")
@click.option("-o", "--option", "overrides", multiple=True, metavar="<opt>=<val>",
              help="Set the value of option <opt> to <val>. Overrides values in configuration "
                   "file. Dotted paths and list indices: base.list[1]=val.")
@click.option("-p", "--print", "print_additional", metavar="<output_format>",
              help="Add additional information to each notification's output. -pc/-pk for "
                   "container/kubernetes-friendly formats.")
@click.option("-P", "--pidfile", "pidfile", metavar="<pid_file>",
              help="Write pid to specified file (removed on exit).")
@click.option("-r", "rules", multiple=True, metavar="<rules_file>",
              help="Rules file/directory (defaults to value set in configuration file). Can be "
                   "passed multiple times.")
@click.option("--support", "support", is_flag=True, help="Print support information including "
              "version, rules files used, etc. and exit.")
@click.option("-T", "disabled_tags", multiple=True, metavar="<tag>",
              help="Disable any rules with a tag=<tag>. Can not be mixed with -t.")
@click.option("-t", "enabled_tags", multiple=True, metavar="<tag>",
              help="Only run those rules with a tag=<tag>. Can not be mixed with -T/-D.")
@click.option("-U", "--unbuffered", "unbuffered", is_flag=True,
              help="Turn off output buffering to configured outputs.")
@click.option("-u", "--userspace", "userspace", is_flag=True, help="Parse events from userspace "
              "(not supported).")
@click.option("-V", "--validate", "validate", multiple=True, metavar="<rules_file>",
              help="Read the contents of the specified rules(s) file and exit. Can be passed "
                   "multiple times.")
@click.option("--explain", "explain_rule", metavar="<rule>",
              help="pyfalco extension: with -e, replay the file and, for every event the rule "
                   "<rule> matches, print which parts of its condition held or failed, with "
                   "the field values seen; then exit.")
@click.option("--explain-event", "explain_event", type=int, default=None, metavar="<num>",
              help="pyfalco extension: with --explain, explain the rule on event number <num> "
                   "(evt.num) only, whether it matches or not.")
@click.option("-v", "verbose", is_flag=True, help="Verbose output.")
@click.option("--version", "version", is_flag=True, help="Print version number.")
def cli(**kw: object) -> None:
    opts = to_options(kw, sys.argv)
    state = app.State(opts)
    res = app.run(state)
    if not res.success:
        _fail(res.errstr)
    sys.exit(0)


def check_conflicts(kw: dict[str, object]) -> str | None:
    """Falco's ``options::parse`` checks, with its messages."""
    if (kw["disabled_rule_substrings"] or kw["disabled_tags"]) and kw["enabled_tags"]:
        return "You can not specify both disabled (-D/-T) and enabled (-t) rules"
    if kw["daemon"] and not kw["pidfile"]:
        return "If -d is provided, a pid file must also be provided"
    modes = sum(bool(x) for x in (kw["trace_filename"], kw["userspace"], kw["modern_bpf"],
                                  os.environ.get("FALCO_BPF_PROBE") is not None, kw["nodriver"]))
    if modes > 1:
        return ("You can not specify more than one of -e, -u (--userspace), -g (--gvisor-config), "
                "--modern-bpf, --nodriver, and the FALCO_BPF_PROBE env var")
    if kw["enable_sources"] and kw["disable_sources"]:
        return "You can not mix --enable-source and --disable-source"
    if kw.get("explain_event") is not None and not kw.get("explain_rule"):
        return "--explain-event needs --explain <rule>"
    if kw.get("explain_rule") and not kw["trace_filename"]:
        return "--explain needs a trace file (-e <events_file>)"
    return None


def to_options(kw: dict[str, object], argv: list[str]) -> app.Options:
    err = check_conflicts(kw)
    if err:
        _fail(err)
    if kw["daemon"]:
        _fail("-d (--daemon) is not supported by pyfalco; run it under a service manager")
    if kw["userspace"]:
        _fail("-u (--userspace) is not supported by pyfalco")
    if kw["base64"]:
        log.warning("-b (--print-base64) is not supported by pyfalco: buffers print as text")
    for src in list(kw["enable_sources"]) + list(kw["disable_sources"]):  # type: ignore[call-overload]
        if src not in ("syscall", "k8s_audit"):
            verb = "enabling" if src in kw["enable_sources"] else "disabling"  # type: ignore[operator]
            _fail(f"Attempted {verb} an unknown event source: {src}")
    # "--disable-source syscall" alone is fine when a k8saudit plugin is configured: the
    # k8s_audit source then runs alone; whether one is is known after the config is read
    # (falco_cli.k8s_source.process_if_selected says "Must enable at least one event source").
    overrides = list(kw["overrides"])  # type: ignore[call-overload]
    if kw["modern_bpf"]:
        overrides.insert(0, "engine.kind=modern_ebpf")
    if kw["nodriver"]:
        overrides.insert(0, "engine.kind=nodriver")
    pa = str(kw["print_additional"] or "")
    return app.Options(
        conf_filename=kw["conf"],  # type: ignore[arg-type]
        rules_filenames=list(kw["rules"]),  # type: ignore[call-overload]
        overrides=overrides,
        trace_filename=kw["trace_filename"],  # type: ignore[arg-type]
        all_events=bool(kw["all_events"]),
        disabled_rule_substrings=list(kw["disabled_rule_substrings"]),  # type: ignore[call-overload]
        disabled_rule_tags=list(kw["disabled_tags"]),  # type: ignore[call-overload]
        enabled_rule_tags=list(kw["enabled_tags"]),  # type: ignore[call-overload]
        describe_all_rules=bool(kw["describe_all"]),
        describe_rule=kw["describe_rule"],  # type: ignore[arg-type]
        list_fields=kw["list_source"] is not None,
        list_source=str(kw["list_source"] or ""),
        names_only=bool(kw["names_only"]),
        markdown=bool(kw["markdown"]),
        print_additional=pa,
        duration_s=float(kw["duration"] or 0),  # type: ignore[arg-type]
        unbuffered=bool(kw["unbuffered"]),
        validate_filenames=list(kw["validate"]),  # type: ignore[call-overload]
        verbose=bool(kw["verbose"]),
        print_version=bool(kw["version"]),
        print_support=bool(kw["support"]),
        dry_run=bool(kw["dry_run"]),
        pidfile=kw["pidfile"],  # type: ignore[arg-type]
        disable_sources=list(kw["disable_sources"]),  # type: ignore[call-overload]
        enable_sources=list(kw["enable_sources"]),  # type: ignore[call-overload]
        modern_bpf=bool(kw["modern_bpf"]),
        nodriver=bool(kw["nodriver"]),
        explain_rule=kw.get("explain_rule"),  # type: ignore[arg-type]
        explain_event=kw.get("explain_event"),  # type: ignore[arg-type]
        cmdline=" ".join(argv),
    )


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="pyfalco", standalone_mode=True)


__all__ = ["__version__", "cli", "main"]
