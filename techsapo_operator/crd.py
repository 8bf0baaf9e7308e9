"""Generate the TechSapo CustomResourceDefinition from the pydantic models.

pydantic's JSON schema is not a structural schema, which the API server requires, so it is
rewritten: ``$ref`` inlined, ``anyOf`` with null dropped (unset means absent), ``const`` as a
one-value ``enum``, and ``title`` and boolean ``additionalProperties`` removed (a structural schema
prunes unknown fields, and ``kubectl`` reports them as errors under strict field validation; where
anything goes, the model says ``x-kubernetes-preserve-unknown-fields``).
"""

from __future__ import annotations

from typing import Any

from techsapo_operator import models

NAME = f"{models.PLURAL}.{models.GROUP}"
DROPPED_KEYS = frozenset({"title", "$defs"})

PRINTER_COLUMNS = [
    {
        "name": "Environment",
        "type": "string",
        "jsonPath": ".spec.environment",
        "description": "dev, staging or production",
    },
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "Whether every component is ready at the current generation",
    },
    {
        "name": "Reason",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        "description": "Why the instance is or is not ready",
    },
    {
        "name": "Pending",
        "type": "string",
        "jsonPath": ".status.pendingChange.hash",
        "description": "The hash of a change waiting for an admin's approval",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _resolve_ref(ref: str, definitions: dict[str, Any]) -> dict[str, Any]:
    name = ref.rsplit("/", 1)[-1]
    resolved: dict[str, Any] = definitions[name]
    return resolved


def structural(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Rewrite one pydantic JSON schema node (and everything under it) into structural form."""
    node = dict(schema)
    if "$ref" in node:
        referenced = _resolve_ref(node.pop("$ref"), definitions)
        node = {**referenced, **node}  # the field's own description wins over the model's
    any_of = node.get("anyOf")
    if any_of is not None and {"type": "null"} in any_of:
        rest = [option for option in any_of if option != {"type": "null"}]
        node.pop("anyOf")
        if len(rest) == 1:
            node = {**structural(rest[0], definitions), **{k: v for k, v in node.items() if k != "default"}}
            return structural_cleanup(node, definitions)
        node["anyOf"] = rest
    if node.get("default", "absent") is None:
        del node["default"]
    return structural_cleanup(node, definitions)


def structural_cleanup(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYS or (key == "additionalProperties" and isinstance(value, bool)):
            continue  # false: pruning does it; true: x-kubernetes-preserve-unknown-fields says it
        if key == "const":
            out["enum"] = [value]
        elif key == "description":
            out[key] = " ".join(value.split())  # docstrings wrap; descriptions read as one paragraph
        elif key == "properties":
            out[key] = {name: structural(child, definitions) for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, definitions)
        else:
            out[key] = value
    if "properties" in out:
        out.setdefault("type", "object")
    return out


def _schema_of(model: type[models.Model]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def open_api_schema() -> dict[str, Any]:
    """The version's openAPIV3Schema: apiVersion, kind, metadata, and the generated spec and status."""
    return {
        "type": "object",
        "description": models.TechSapo.__doc__,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "The API version: techsapo.io/v1alpha1."},
            "kind": {"type": "string", "description": "TechSapo."},
            "metadata": {"type": "object"},
            "spec": _schema_of(models.TechSapoSpec),
            "status": _schema_of(models.TechSapoStatus),
        },
    }


def build() -> dict[str, Any]:
    """The CustomResourceDefinition, as committed in crds/."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": NAME,
            "labels": {
                "app.kubernetes.io/name": "techsapo-operator",
                "app.kubernetes.io/part-of": "techsapo",
            },
        },
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": models.KIND,
                "listKind": f"{models.KIND}List",
                "plural": models.PLURAL,
                "singular": models.SINGULAR,
                "shortNames": list(models.SHORT_NAMES),
                "categories": list(models.CATEGORIES),
            },
            "versions": [
                {
                    "name": models.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": open_api_schema()},
                }
            ],
        },
    }
