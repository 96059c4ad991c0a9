"""Alert sinks. Each output runs behind its own bounded queue and worker thread (``base.Output``);
``OutputHub`` formats an alert once and fans it out without ever blocking event processing."""
from falco_cli.outputs.base import Output, OutputError
from falco_cli.outputs.file import FileOutput
from falco_cli.outputs.formatting import Message, format_alert, format_internal, priority_name
from falco_cli.outputs.http import HttpOutput
from falco_cli.outputs.hub import OutputHub, build_outputs
from falco_cli.outputs.program import ProgramOutput
from falco_cli.outputs.stdout import StdoutOutput
from falco_cli.outputs.syslog import SyslogOutput

__all__ = ["FileOutput", "HttpOutput", "Message", "Output", "OutputError", "OutputHub",
           "ProgramOutput", "StdoutOutput", "SyslogOutput", "build_outputs", "format_alert",
           "format_internal", "priority_name"]
