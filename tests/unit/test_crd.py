"""The generated CRD: current in crds/, structural, and carrying the rules and columns users see."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import yaml

from techsapo_operator import crd, yamls

COMMITTED = pathlib.Path(__file__).resolve().parents[2] / "crds" / "techsapo.io_techsapos.yaml"


def schema() -> dict[str, Any]:
    version: dict[str, Any] = crd.build()["spec"]["versions"][0]
    openapi: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return openapi


def nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from nodes(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from nodes(value, f"{path}[{index}]")


def test_committed_crd_is_current() -> None:
    assert COMMITTED.read_text() == yamls.dump(crd.build()), "crds/ is stale: run `make crds` and commit"


def test_schema_is_structural() -> None:
    for path, node in nodes(schema()):
        assert "$ref" not in node and "$defs" not in node, path
        assert "const" not in node and "title" not in node, path
        assert not isinstance(node.get("additionalProperties"), bool), path
        assert not ("additionalProperties" in node and "properties" in node), path
        if "anyOf" in node:  # only int-or-string may use it
            assert node.get("x-kubernetes-int-or-string") is True, path
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
        if "properties" in node:
            assert node["type"] == "object", path
    assert "null" not in json.dumps(schema())


def test_every_spec_field_has_a_description() -> None:
    for path, node in nodes(schema()["properties"]["spec"]):
        if ".properties." in path and path.rsplit(".", 2)[-2] == "properties":
            assert node.get("description"), f"{path} has no description"


def test_names_columns_and_status_subresource() -> None:
    definition = crd.build()
    names = definition["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("TechSapo", "techsapos", ["tsp"])
    assert "techsapo" in names["categories"]
    version = definition["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Environment",
        "Ready",
        "Reason",
        "Pending",
        "Age",
    ]


def test_cross_field_rules_are_in_the_schema() -> None:
    rules = [rule["rule"] for rule in schema()["properties"]["spec"]["x-kubernetes-validations"]]
    assert "self.environment == oldSelf.environment" in rules
    assert any("readOnlyRootFilesystem" in rule for rule in rules)
    assert any("logging.level" in rule and '"DEBUG"' in rule for rule in rules)


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = schema()["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["required"]) == {"type", "status", "reason", "lastTransitionTime"}


def test_committed_file_is_valid_yaml_of_one_document() -> None:
    assert len(list(yaml.safe_load_all(COMMITTED.read_text()))) == 1
