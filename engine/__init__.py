"""pyfalco's rule engine: Falco rules files loaded, validated, compiled and run on events.

    from engine import RuleEngine
    eng = RuleEngine()                         # registries of sinsp.fields by default
    result = eng.load_files(["rules/falco_rules.yaml", "rules/falco_rules.local.yaml"])
    for match in eng.process(evt, source="syscall"):
        alert = eng.format_alert(match, evt)
    print(eng.explain("Terminal shell in container", evt))

Layout (Falco's split): ``reader`` (YAML -> items), ``collector`` (append/override),
``compiler`` (macro/list expansion, exceptions, filters), ``ruleset`` (event-type index),
``formats`` (outputs, alerts), ``explain``, ``load_result`` (codes, locations, text/JSON).
"""

from engine.engine import RuleEngine
from engine.errors import EngineError, ItemError, RulesError, UnknownRuleError
from engine.explain import ExplainNode, Explanation
from engine.formats import Alert, OutputFormat, OutputFormatError
from engine.load_result import (
    Context,
    ErrorCode,
    ItemType,
    LoadError,
    LoadResult,
    LoadWarning,
    Location,
    RulesFileResult,
    WarningCode,
)
from engine.priority import Priority
from engine.reader import ENGINE_VERSION
from engine.ruleset import RuleMatch, Ruleset

__all__ = [
    "ENGINE_VERSION",
    "Alert",
    "Context",
    "EngineError",
    "ErrorCode",
    "ExplainNode",
    "Explanation",
    "ItemError",
    "ItemType",
    "LoadError",
    "LoadResult",
    "LoadWarning",
    "Location",
    "OutputFormat",
    "OutputFormatError",
    "Priority",
    "RuleEngine",
    "RuleMatch",
    "RulesError",
    "RulesFileResult",
    "Ruleset",
    "UnknownRuleError",
    "WarningCode",
]
