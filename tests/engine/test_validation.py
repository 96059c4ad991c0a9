"""Validation: every error and warning code with its message and location (0-based YAML
line/column; inside conditions Falco adds the parser's 1-based position), and the text and
JSON forms of a load result."""

from __future__ import annotations

import json

import pytest
from engine_helpers import codes, load

from engine import RuleEngine

RULE = """
- rule: r
  desc: d
  condition: {cond}
  output: {output}
  priority: notice
"""


def rule(cond: str = "evt.type = open", output: str = "o %proc.name", extra: str = "") -> str:
    return RULE.format(cond=cond, output=output) + extra


def only_error(res):  # type: ignore[no-untyped-def]
    assert not res.successful
    (err,) = res.errors
    return err


def chain(e) -> list[tuple[str, str, int, int]]:  # type: ignore[no-untyped-def]
    return [(loc.item_type.value, loc.item_name, loc.line, loc.column)
            for loc in e.context.locations]


def test_yaml_parse_error(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- rule: [unclosed\n  desc: x\n"))
    assert err.code.name == "LOAD_ERR_YAML_PARSE"
    assert err.location.line == 1


def test_not_a_sequence(eng: RuleEngine) -> None:
    err = only_error(load(eng, "rule: x\n"))
    assert err.code.name == "LOAD_ERR_YAML_VALIDATE"
    assert err.message == "Rules content is not yaml array of objects"


def test_item_not_a_mapping(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- just a string\n"))
    assert err.message == ("Unexpected element type. "
                           "Each element should be a yaml associative array.")
    assert chain(err)[-1] == ("rules content item", "", 0, 2)


def test_missing_key_location(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- rule: r\n  desc: d\n  priority: info\n  output: o\n"))
    assert err.code.name == "LOAD_ERR_YAML_VALIDATE"
    assert err.message == "Item has no mapping for key 'condition'"
    assert chain(err) == [("rules content", "", 0, 0), ("rule", "r", 0, 2)]


def test_invalid_priority_points_at_value(eng: RuleEngine) -> None:
    err = only_error(load(eng, rule().replace("notice", "loud")))
    assert err.message == "Invalid priority"
    assert chain(err)[-1] == ("rule priority", "", 4, 12)


def test_wrong_type_items(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- list: l\n  items: notalist\n"))
    assert err.message == "Value is not a sequence"
    assert chain(err)[-1] == ("value for", "items", 1, 9)


def test_invalid_macro_name(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- macro: 1bad\n  condition: evt.num > 0\n"))
    assert err.message.startswith("Macro has an invalid name.")


def test_unknown_item_and_unknown_key_warn(eng: RuleEngine) -> None:
    res = load(eng, "- foo: bar\n" + rule(extra="  colour: red\n"))
    assert res.successful
    assert codes(res)[1] == ["LOAD_UNKNOWN_ITEM", "LOAD_UNKNOWN_KEY"]
    assert res.warnings[0].message == "Unknown top level item"


def test_undefined_macro(eng: RuleEngine) -> None:
    err = only_error(load(eng, rule(cond="evt.type = open and not nosuch")))
    assert err.code.name == "LOAD_ERR_VALIDATE"
    assert err.message == "Undefined macro 'nosuch' used in filter."
    # rule at (0,2); the identifier is at offset 24 -> parser (1, 25): 0+1, 2+25
    assert chain(err)[-1] == ("condition expression", "", 1, 27)
    assert err.context.locations[-1].name == '"evt.type = open a..."'


def test_macro_defined_later_is_undefined_for_macro(eng: RuleEngine) -> None:
    res = load(eng, """
        - macro: a
          condition: b
        - macro: b
          condition: evt.type = open
        """)
    err = only_error(res)
    assert err.message == "Undefined macro 'b' used in filter."
    assert chain(err)[1] == ("macro", "a", 0, 2)


def test_macro_reference_loop(eng: RuleEngine) -> None:
    res = load(eng, "- macro: a\n  condition: evt.type = open\n- macro: b\n  condition: a\n"
                    "- macro: a\n  condition: b\n" + rule(cond="a"))
    err = only_error(res)
    assert err.code.name == "LOAD_ERR_VALIDATE"
    assert err.message == "reference loop in macro 'b'"  # found while expanding a -> b -> a -> b


def test_condition_syntax_error(eng: RuleEngine) -> None:
    err = only_error(load(eng, rule(cond="evt.type = open and")))
    assert err.code.name == "LOAD_ERR_COMPILE_CONDITION"
    assert chain(err)[-2] == ("rule condition", "", 2, 13)
    assert chain(err)[-1][0] == "condition expression"


def test_unknown_field_error_and_skip(eng: RuleEngine) -> None:
    err = only_error(load(eng, rule(cond="evt.type = open and no.such = 1")))
    assert err.code.name == "LOAD_ERR_COMPILE_CONDITION"
    assert "nonexistent field no.such" in err.message
    e2 = RuleEngine(registries=eng.registries)
    res = load(e2, rule(cond="evt.type = open and no.such = 1",
                        extra="  skip-if-unknown-filter: true\n"))
    assert res.successful
    assert codes(res) == ([], ["LOAD_UNKNOWN_FILTER"])
    assert e2.rules == []


def test_unknown_field_in_output(eng: RuleEngine) -> None:
    err = only_error(load(eng, rule(output="o %no.such")))
    assert err.code.name == "LOAD_ERR_COMPILE_OUTPUT"
    assert err.message == "invalid formatting token %no.such"
    assert chain(err)[-1] == ("rule output", "", 3, 10)


def test_unknown_source_skips_rule(syscall_only: RuleEngine) -> None:
    res = load(syscall_only, rule(cond="ka.verb = create", extra="  source: k8s_audit\n"))
    assert res.successful
    assert codes(res) == ([], ["LOAD_UNKNOWN_SOURCE"])
    assert res.warnings[0].message == "Unknown source k8s_audit, skipping"
    assert syscall_only.rules == []


def test_unused_macro_and_list(eng: RuleEngine) -> None:
    res = load(eng, "- list: l\n  items: [a]\n- macro: m\n  condition: evt.num > 0\n" + rule())
    assert codes(res) == ([], ["LOAD_UNUSED_MACRO", "LOAD_UNUSED_LIST"])
    assert [w.message for w in res.warnings] == [
        "Macro not referred to by any other rule/macro",
        "List not referred to by any other rule/macro"]
    assert chain(res.warnings[0])[-1] == ("macro", "m", 2, 2)


def test_no_evttype_warning(eng: RuleEngine) -> None:
    res = load(eng, rule(cond="proc.name = bash"))
    assert codes(res) == ([], ["LOAD_NO_EVTTYPE"])
    assert res.warnings[0].message == ("Rule matches too many evt.type values. This has a "
                                       "significant performance penalty.")
    e2 = RuleEngine(registries=eng.registries)
    assert codes(load(e2, rule(cond="proc.name = bash", extra="  warn_evttypes: false\n"))) \
        == ([], [])


def test_unsafe_na_check_on_k8s_fields(eng: RuleEngine) -> None:
    res = load(eng, rule(cond='ka.user.name = "<NA>"', output="o",
                         extra="  source: k8s_audit\n"))
    assert codes(res) == ([], ["LOAD_UNSAFE_NA_CHECK"])


def test_engine_version_too_new(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- required_engine_version: 0.99.0\n"))
    assert err.code.name == "LOAD_ERR_VALIDATE"
    assert err.message.startswith("Rules require engine version 0.99.0, but engine version is")
    assert load(RuleEngine(registries=eng.registries),
                "- required_engine_version: 26\n").successful


def test_plugin_versions(eng: RuleEngine) -> None:
    ok = load(eng, "- required_plugin_versions:\n  - name: json\n    version: 0.7.0\n")
    assert ok.successful
    err = only_error(load(RuleEngine(registries=eng.registries),
                          "- required_plugin_versions:\n  - name: json\n    version: x\n"))
    assert err.message == "Invalid required version 'x' for plugin 'json'"


@pytest.mark.parametrize(("exc", "code", "message"), [
    ("  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n"
     "      values: []\n", "LOAD_ERR_VALIDATE", "Fields and comps lists must have equal length"),
    ("  exceptions:\n    - name: e\n      fields: [proc.name]\n      comps: [near]\n"
     "      values: []\n", "LOAD_ERR_VALIDATE", "'near' is not a supported comparison operator"),
    ("  exceptions:\n    - name: e\n      fields: [no.such]\n      values: []\n",
     "LOAD_ERR_VALIDATE", "'no.such' is not a supported filter field"),
    ("  exceptions:\n    - name: e\n      fields: proc.name\n      comps: =\n      values: []\n",
     "LOAD_ERR_VALIDATE",
     "When fields is a single value, comps must be one of (in, pmatch, intersects)"),
    ("  exceptions:\n    - name: e\n      values: []\n",
     "LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'fields'"),
    ("  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[a, b]]\n",
     "LOAD_ERR_VALIDATE", "Fields and values lists must have equal length"),
])
def test_exception_errors(eng: RuleEngine, exc: str, code: str, message: str) -> None:
    err = only_error(load(eng, rule(extra=exc)))
    assert err.code.name == code
    assert err.message == message
    assert chain(err)[-1][:2] == ("exception", "e")


def test_exception_names_unique(eng: RuleEngine) -> None:
    ex = "  exceptions:\n" + "    - name: e\n      fields: proc.name\n      values: [a]\n" * 2
    err = only_error(load(eng, rule(extra=ex)))
    assert err.message == "Exceptions names in the same object must be unique"


def test_append_to_missing_items(eng: RuleEngine) -> None:
    err = only_error(load(eng, "- list: l\n  items: [a]\n  override:\n    items: append\n"))
    assert err.message == ("List uses 'append' or 'override.items: append' but no list by that "
                           "name already exists")
    err = only_error(load(RuleEngine(registries=eng.registries),
                          "- rule: r\n  condition: x\n  override:\n    condition: append\n"))
    assert err.message.startswith("Rule uses 'append' or 'override.<key>: append'")


def test_override_errors(eng: RuleEngine) -> None:
    err = only_error(load(eng, rule(extra="  override:\n    priority: append\n")))
    assert err.message == "Key 'priority' cannot be appended to, use 'replace' instead"
    err = only_error(load(RuleEngine(registries=eng.registries), rule() + """
- rule: r
  condition: x
  output: y
  override:
    condition: append
"""))
    assert err.message == ("Unexpected key 'output': "
                           "no corresponding entry under 'override' is defined.")


def test_verbose_text_format(eng: RuleEngine) -> None:
    res = load(eng, rule(cond="evt.type = open and not nosuch"), name="f.yaml")
    assert res.as_string(verbose=True) == (
        "f.yaml: Invalid\n"
        "1 Errors:\n"
        "In rules content: (f.yaml:0:0)\n"
        "    rule 'r': (f.yaml:0:2)\n"
        "    condition expression: (\"evt.type = open a...\":1:27)\n"
        "------\n"
        "evt.type = open and not nosuch\n"
        "                        ^\n"
        "------\n"
        "LOAD_ERR_VALIDATE (Error validating rule/macro/list/exception objects): "
        "Undefined macro 'nosuch' used in filter.\n")
    assert res.as_string(verbose=False) == (
        "f.yaml: Invalid\n 1 errors: [LOAD_ERR_VALIDATE (Error validating "
        "rule/macro/list/exception objects)]")


def test_json_format(eng: RuleEngine) -> None:
    res = load(eng, "- list: l\n  items: [a]\n" + rule(), name="f.yaml")
    doc = json.loads(res.as_json_string())
    (fr,) = doc["falco_load_results"]
    assert fr["name"] == "f.yaml"
    assert fr["successful"] is True
    assert fr["errors"] == []
    (w,) = fr["warnings"]
    assert w["code"] == "LOAD_UNUSED_LIST"
    assert w["codedesc"].startswith("A list is defined in the rules content but is not used")
    assert w["message"] == "List not referred to by any other rule/macro"
    assert w["context"]["locations"][-1] == {
        "item_type": "list", "item_name": "l",
        "position": {"name": "f.yaml", "line": 0, "column": 2, "offset": 2}}
    assert w["context"]["snippet"] == "- list: l\n  ^\n"
