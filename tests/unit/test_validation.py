"""The operator's own validation: profile pins and cross-field rules, with errors naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from techsapo_operator import validation
from tests import cases, examples


@pytest.mark.parametrize("case", cases.bad_cases())
def test_bad_spec_is_refused_naming_the_field_and_the_rule(case: cases.Bad) -> None:
    with pytest.raises(validation.InvalidTechSapoError) as raised:
        examples.techsapo(case.environment, case.changes)
    problems = raised.value.problems
    assert any(p.startswith(f"{case.field}: ") and case.message in p for p in problems), problems


@pytest.mark.parametrize(("environment", "changes"), cases.good_cases())
def test_good_variant_is_accepted(environment: str, changes: dict[str, Any]) -> None:
    examples.techsapo(environment, changes)


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_every_example_is_valid(environment: str) -> None:
    techsapo = examples.techsapo(environment)
    assert techsapo.spec.environment == environment


def test_wrong_kind_is_refused() -> None:
    document = examples.document("dev") | {"kind": "Deployment"}
    expected = r"kind: expected techsapo\.io/v1alpha1 TechSapo"
    with pytest.raises(validation.InvalidTechSapoError, match=expected):
        validation.parse(document)


def test_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(validation.InvalidTechSapoError, match="expected a mapping"):
        validation.parse(["a", "list"])


def test_missing_required_field_is_named() -> None:
    document = examples.with_changes("dev", {"llmGateway": None})
    with pytest.raises(validation.InvalidTechSapoError) as raised:
        validation.parse(document)
    assert "spec.llmGateway: required field is missing" in raised.value.problems


def test_repeated_operation_is_refused() -> None:
    document = examples.with_changes("dev", {"mcpProxy.policy": {"allowedOperations": ["read", "read"]}})
    with pytest.raises(validation.InvalidTechSapoError, match="each operation may appear once"):
        validation.parse(document)


def test_repeated_upstream_name_is_refused() -> None:
    upstream = {"name": "cipher", "url": "http://cipher:3000/mcp"}
    document = examples.with_changes("dev", {"mcpProxy.upstreams": [upstream, upstream]})
    with pytest.raises(validation.InvalidTechSapoError, match="repeated: cipher"):
        validation.parse(document)
