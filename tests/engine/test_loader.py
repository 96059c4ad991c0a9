"""Loading: item types, append/override, enabled, priorities, and the canonical expanded
condition of each rule (macros and lists folded in on the AST)."""

from __future__ import annotations

from engine_helpers import codes, load

from engine import Priority, RuleEngine
from sinsp.filter.ast import to_text

BASE = """
- list: shells
  items: [bash, sh]
- macro: spawned
  condition: evt.type = execve and evt.dir = <
- rule: shell
  desc: a shell
  condition: spawned and proc.name in (shells, zsh)
  output: shell %proc.name
  priority: WARNING
  tags: [b, a]
"""


def test_list_macro_rule_expand_on_ast(eng: RuleEngine) -> None:
    res = load(eng, BASE)
    assert res.successful, res.as_string()
    assert codes(res) == ([], [])
    r = eng.rule("shell")
    # the macro stays a sub-tree (Falco's ast keeps it nested too)
    assert to_text(r.ast) == ("(evt.type = execve and evt.dir = <) and "
                              "proc.name in (bash, sh, zsh)")
    assert r.priority is Priority.WARNING
    assert r.tags == ("a", "b")  # Falco keeps tags in a std::set
    assert r.source == "syscall"
    assert r.event_types is not None and 0 < len(r.event_types) < 100  # execve variants


def test_list_of_lists_and_quoted_items(eng: RuleEngine) -> None:
    res = load(eng, """
        - list: a
          items: ['"x y"', b]
        - list: c
          items: [a, d]
        - rule: r
          desc: d
          condition: evt.type = open and proc.name in (c)
          output: o
          priority: info
        """)
    assert res.successful, res.as_string()
    assert to_text(eng.rule("r").ast) == 'evt.type = open and proc.name in ("x y", b, d)'


def test_override_append_and_replace(eng: RuleEngine) -> None:
    res = load(eng, BASE + """
- list: shells
  items: [ksh]
  override:
    items: append
- macro: spawned
  condition: and proc.pid > 0
  override:
    condition: append
- rule: shell
  condition: and user.uid = 0
  output: uid=%user.uid
  tags: [c]
  override:
    condition: append
    output: append
    tags: append
- rule: shell
  priority: critical
  enabled: false
  override:
    priority: replace
    enabled: replace
""")
    assert res.successful, res.as_string()
    r = eng.rule("shell")
    assert to_text(r.ast) == ("(evt.type = execve and evt.dir = < and proc.pid > 0) and "
                              "proc.name in (bash, sh, ksh, zsh) and user.uid = 0")
    assert r.output == "shell %proc.name uid=%user.uid"
    assert r.tags == ("a", "b", "c")
    assert r.priority is Priority.CRITICAL
    assert not eng.is_enabled("shell")


def test_override_replace_condition(eng: RuleEngine) -> None:
    res = load(eng, BASE + """
- rule: shell
  condition: evt.type = open
  override:
    condition: replace
""")
    assert res.successful, res.as_string()
    assert to_text(eng.rule("shell").ast) == "evt.type = open"
    assert codes(res)[1] == ["LOAD_UNUSED_MACRO", "LOAD_UNUSED_LIST"]


def test_deprecated_append_flag_warns(eng: RuleEngine) -> None:
    res = load(eng, BASE + """
- list: shells
  items: [ksh]
  append: true
""")
    assert res.successful
    (w,) = res.warnings
    assert w.code.name == "LOAD_DEPRECATED_ITEM"
    assert w.message.startswith("'append' key is deprecated.")
    assert (w.location.item_type.value, w.location.item_name) == ("list", "shells")
    assert (w.location.line, w.location.column) == (11, 2)  # 0-based, like YAML marks


def test_enabled_only_item_disables_with_deprecation(eng: RuleEngine) -> None:
    res = load(eng, BASE + """
- rule: shell
  enabled: false
""")
    assert res.successful
    assert codes(res) == ([], ["LOAD_DEPRECATED_ITEM"])
    assert not eng.is_enabled("shell")


def test_later_file_appends_to_earlier(eng: RuleEngine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(BASE)
    b.write_text("- list: shells\n  items: [fish]\n  override:\n    items: append\n")
    res = eng.load_files([a, b])
    assert res.successful, res.as_string()
    assert [f.name for f in res.files] == [str(a), str(b)]
    assert "fish" in to_text(eng.rule("shell").ast)


def test_priorities_case_insensitive(eng: RuleEngine) -> None:
    for i, text in enumerate(["EMERGENCY", "alert", "Critical", "error", "WARNING", "notice",
                              "info", "Informational", "debug"]):
        e = RuleEngine(registries=eng.registries)
        res = load(e, f"""
            - rule: r
              desc: d
              condition: evt.type = open
              output: o
              priority: {text}
            """)
        assert res.successful, text
        assert e.rule("r").priority == min(i, 6) if i < 7 else e.rule("r").priority == i - 1


def test_exceptions_single_field_and_tuple(eng: RuleEngine) -> None:
    res = load(eng, """
        - list: trusted
          items: [cron, atd]
        - rule: r
          desc: d
          condition: evt.type = open
          output: o
          priority: notice
          exceptions:
            - name: by_proc
              fields: proc.name
              values: [cat, "my prog"]
            - name: by_pair
              fields: [proc.name, fd.name]
              comps: [in, startswith]
              values:
                - [trusted, /tmp]
                - [[vi, vim], /etc/x]
        """)
    assert res.successful, res.as_string()
    r = eng.rule("r")
    assert r.condition == ('(evt.type = open) and not (proc.name in (cat, "my prog")) and not '
                           '(( proc.name in (trusted) and  fd.name startswith /tmp) or '
                           '( proc.name in (vi, vim) and  fd.name startswith /etc/x))')
    assert to_text(r.ast) == (
        'evt.type = open and not proc.name in (cat, "my prog") and not '
        '(proc.name in (cron, atd) and fd.name startswith /tmp or '
        'proc.name in (vi, vim) and fd.name startswith /etc/x)')
    assert r.exception_fields == ("fd.name", "proc.name")


def test_exception_values_appended(eng: RuleEngine) -> None:
    res = load(eng, """
        - rule: r
          desc: d
          condition: evt.type = open
          output: o
          priority: notice
          exceptions:
            - name: ex
              fields: [proc.name]
              values: [[cat]]
        - rule: r
          exceptions:
            - name: ex
              values: [[dog]]
          override:
            exceptions: append
        """)
    assert res.successful, res.as_string()
    assert eng.rule("r").condition.endswith("(( proc.name = cat) or ( proc.name = dog))")


def test_exception_append_without_values_warns(eng: RuleEngine) -> None:
    res = load(eng, """
        - rule: r
          desc: d
          condition: evt.type = open
          output: o
          priority: notice
          exceptions:
            - name: ex
              fields: [proc.name]
              values: [[cat]]
        - rule: r
          exceptions:
            - name: ex
          override:
            exceptions: append
        """)
    assert codes(res)[1] == ["LOAD_APPEND_NO_VALUES"]
    assert res.warnings[0].message == "Overriding/appending exception with no values"


def test_multi_source_k8s_rules(eng: RuleEngine) -> None:
    res = load(eng, """
        - macro: kevt
          condition: ka.verb in (create, update)
        - rule: anon
          desc: d
          condition: kevt and ka.user.name = "system:anonymous"
          output: user=%ka.user.name verb=%ka.verb
          priority: warning
          source: k8s_audit
        """)
    assert res.successful, res.as_string()
    # no LOAD_NO_EVTTYPE: event types only apply to the syscall source
    assert codes(res) == ([], [])
    m = eng.process({"user": "system:anonymous", "verb": "create"}, source="k8s_audit")
    assert [x.rule for x in m] == ["anon"]
    assert eng.process({"user": "bob", "verb": "create"}, source="k8s_audit") == []
    a = eng.format_alert(m[0], {"user": "system:anonymous", "verb": "create"})
    assert a.message == "user=system:anonymous verb=create"
    assert a.output_fields["ka.user.name"] == "system:anonymous"


def test_redefined_list_sees_lists_defined_before_its_redefinition(eng: RuleEngine) -> None:
    res = load(eng, """
        - list: a
          items: [x]
        - list: b
          items: [y, z]
        - list: a
          items: [b, w]
        - rule: r
          desc: d
          condition: evt.type = open and proc.name in (a)
          output: o
          priority: info
        """)
    assert res.successful, res.as_string()
    assert to_text(eng.rule("r").ast) == "evt.type = open and proc.name in (y, z, w)"
