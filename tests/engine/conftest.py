"""Fixtures for engine tests: an engine on the real syscall registry, plus a tiny k8s_audit
registry (two ``ka.*`` fields over dict events) to exercise a second source."""

from __future__ import annotations

from typing import Any

import pytest

from engine import RuleEngine
from sinsp.fields.registry import ArgKind, FieldClassBuilder, FieldRegistry, FieldType


def _k8s_registry() -> FieldRegistry:
    reg = FieldRegistry("k8s_audit")
    b = FieldClassBuilder("ka", "k8s audit test fields", source="k8s_audit")

    @b.field("ka.user.name", FieldType.CHARBUF, "user name")
    def _user(evt: Any, arg: Any) -> Any:
        return evt.get("user")

    @b.field("ka.verb", FieldType.CHARBUF, "verb")
    def _verb(evt: Any, arg: Any) -> Any:
        return evt.get("verb")

    @b.field("jevt.value", FieldType.CHARBUF, "json pointer", arg=ArgKind.REQUIRED)
    def _jv(evt: Any, arg: Any) -> Any:
        return evt.get(arg)

    reg.register(b.build())
    return reg


@pytest.fixture(scope="session")
def registries() -> dict[str, Any]:
    regs = RuleEngine().registries
    return {"syscall": regs["syscall"], "k8s_audit": _k8s_registry()}


@pytest.fixture
def eng(registries: dict[str, Any]) -> RuleEngine:
    return RuleEngine(registries=dict(registries), hostname="testhost")


@pytest.fixture
def syscall_only(registries: dict[str, Any]) -> RuleEngine:
    return RuleEngine(registries={"syscall": registries["syscall"]}, hostname="testhost")

