"""The ``k8s_audit`` event source: Kubernetes audit events, their fields and their readers.

    from sinsp.k8saudit import read_audit_events, REGISTRY
    for evt in read_audit_events("audit.log"):          # JSON lines, a JSON document, a dir
        print(evt.num, REGISTRY.extract(evt, "ka.verb"))

Importing this package registers ``REGISTRIES["k8s_audit"]`` (``ka.*``, ``json.*``/``jevt.*``,
``evt.*``); the rule engine runs ``source: k8s_audit`` rules with it, unchanged. Falco gets the
same from its k8saudit and json plugins; here they are built in.
"""

from sinsp.k8saudit.event import (
    DEFAULT_MAX_EVENT_SIZE,
    NOT_RECOGNIZED,
    SOURCE,
    AuditEvent,
    AuditEventError,
    AuditFormatError,
    ParseResult,
    parse_payload,
    parse_rfc3339,
    parse_value,
)
from sinsp.k8saudit.fields import REGISTRY, json_pointer, to_text
from sinsp.k8saudit.reader import AuditFileReader, read_audit_events

__all__ = [
    "DEFAULT_MAX_EVENT_SIZE",
    "NOT_RECOGNIZED",
    "REGISTRY",
    "SOURCE",
    "AuditEvent",
    "AuditEventError",
    "AuditFileReader",
    "AuditFormatError",
    "ParseResult",
    "json_pointer",
    "parse_payload",
    "parse_rfc3339",
    "parse_value",
    "read_audit_events",
    "to_text",
]
