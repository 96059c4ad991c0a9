"""falco.yaml + -o: defaults, overrides with dotted paths and list indices, type errors naming the
key, unknown keys warned about, rules: selection, the shipped falco.yaml."""
from __future__ import annotations

import pytest
import yaml

from falco_cli import config
from falco_cli.config import ConfigError


def test_defaults_without_a_file():
    c = config.load(None)
    assert c["json_output"] is False
    assert c["stdout_output.enabled"] is True
    assert c["syscall_event_drops.actions"] == ["log", "alert"]
    assert c["webserver.listen_port"] == 8765
    assert c.warnings == ()


@pytest.mark.parametrize("text,expected", [("true", True), ("True", True), ("false", False),
                                           ("False", False), ("TRUE", True)])
def test_bool_overrides(text, expected):
    assert config.load(None, [f"json_output={text}"])["json_output"] is expected


def test_numeric_and_nested_overrides():
    c = config.load(None, ["outputs.rate=2.5", "webserver.listen_port=9000",
                           "syscall_event_drops.max_burst=3"])
    assert c["outputs.rate"] == 2.5
    assert c["webserver.listen_port"] == 9000
    assert c["syscall_event_drops.max_burst"] == 3


def test_list_index_override_creates_structure():
    c = config.load(None, ["plugins[0].open_params=abc", "plugins[0].name=k8saudit"])
    assert c.raw["plugins"] == [{"open_params": "abc", "name": "k8saudit"}]


def test_list_index_override_replaces_element(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("rules_files: [a.yaml, b.yaml]\n")
    c = config.load(str(p), ["rules_files[1]=c.yaml"])
    assert c.rules_files == ["a.yaml", "c.yaml"]


def test_yaml_list_override():
    c = config.load(None, ["syscall_event_drops.actions=[log, exit]"])
    assert c["syscall_event_drops.actions"] == ["log", "exit"]


def test_wrong_type_in_file_names_file_and_key(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("webserver:\n  listen_port: eighty\n")
    with pytest.raises(ConfigError) as ei:
        config.load(str(p))
    assert ei.value.key == "webserver.listen_port"
    assert str(p) in str(ei.value)


def test_wrong_type_from_cmdline_names_option():
    with pytest.raises(ConfigError, match=r"^-o: json_output: expected a boolean"):
        config.load(None, ["json_output=maybe"])


def test_unknown_keys_warn(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("json_ouptut: true\nwebserver:\n  listen_prot: 1\n")
    c = config.load(str(p))
    assert "Unknown configuration key 'json_ouptut' ignored" in c.warnings
    assert "Unknown configuration key 'webserver.listen_prot' ignored" in c.warnings


def test_unsupported_key_with_effect_warns():
    c = config.load(None, ["grpc.enabled=true"])
    assert any("grpc.enabled" in w and "not supported" in w for w in c.warnings)


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        config.load(None, ["json_output"])


@pytest.mark.parametrize("opt,key", [("engine.kind=bogus", "engine.kind"),
                                     ("syscall_event_drops.actions=[ignore, log]",
                                      "syscall_event_drops.actions"),
                                     ("syscall_event_drops.threshold=2",
                                      "syscall_event_drops.threshold"),
                                     ("rule_matching=some", "rule_matching")])
def test_enum_checks(opt, key):
    with pytest.raises(ConfigError) as ei:
        config.load(None, [opt])
    assert ei.value.key == key


def test_rules_selection(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("rules:\n  - disable: {rule: '*'}\n  - enable: {tag: network}\n")
    c = config.load(str(p))
    assert [(s.enable, s.rule, s.tag) for s in c.rules_selection] == [(False, "*", None),
                                                                        (True, None, "network")]


def test_rules_file_scalar_and_precedence(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text("rules_file: /x.yaml\n")
    assert config.load(str(p)).rules_files == ["/x.yaml"]
    p.write_text("rules_file: [/x.yaml]\nrules_files: [/y.yaml]\n")
    assert config.load(str(p)).rules_files == ["/y.yaml"]


def test_missing_file_message():
    with pytest.raises(ConfigError, match="Could not find configuration file at /nonexistent"):
        config.load("/nonexistent/falco.yaml")


def test_shipped_falco_yaml_is_clean():
    path = config.packaged_config_path()
    assert path is not None
    with open(path) as f:
        raw = yaml.safe_load(f)
    c = config.build(raw, path=path)
    assert c.warnings == ()
    # every top-level key of the shipped file is known
    assert set(raw) <= {k.split(".")[0] for k in config.SCHEMA}


def test_unsupported_only_when_given(tmp_path):
    assert config.load(None).warnings == ()
    p = tmp_path / "f.yaml"
    p.write_text("watch_config_files: true\nbase_syscalls: {repair: true}\n")
    w = config.load(str(p)).warnings
    assert any(x.startswith("Configuration key 'watch_config_files' is not supported") for x in w)
    assert any(x.startswith("Configuration key 'base_syscalls.repair' is not supported") for x in w)
