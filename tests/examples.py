"""The shipped examples, loaded for tests, and a helper to derive variants of them."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import yaml

from techsapo_operator import models, validation

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
ENVIRONMENTS = ("dev", "staging", "production")


def document(environment: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{environment}.yaml").read_text())
    return loaded


def with_changes(environment: str, changes: dict[str, Any], *, uid: str = "") -> dict[str, Any]:
    """The example with ``changes`` (dotted camelCase paths under spec) set; None removes a field."""
    result = copy.deepcopy(document(environment))
    if uid:
        result["metadata"]["uid"] = uid
    for path, value in changes.items():
        target = result["spec"]
        *parents, last = path.split(".")
        for name in parents:
            target = target.setdefault(name, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return result


def techsapo(
    environment: str,
    changes: dict[str, Any] | None = None,
    *,
    uid: str = "8d1f2c1e-0000-4000-8000-000000000001",
) -> models.TechSapo:
    return validation.parse(with_changes(environment, changes or {}, uid=uid))
