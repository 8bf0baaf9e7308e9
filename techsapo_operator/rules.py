"""Cross-field rules, written once and enforced twice: by the API server, and by the operator.

Each rule carries its CEL expression (emitted into the CRD as ``x-kubernetes-validations``, so
``kubectl apply`` refuses a bad object before it is stored) and the same check in Python (so
``techsapo-operator render`` and the operator refuse it too, with the same message). A test
feeds the same cases to both and compares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
import pydantic_core
from pydantic import alias_generators

RULE_ERROR = "techsapo_rule"


@dataclass(frozen=True)
class Rule:
    """One rule on one object of the schema.

    ``cel`` sees the object as ``self``; ``holds`` sees the pydantic model of the same object,
    or is None for a rule only the API server can check (one that compares with ``oldSelf``).
    """

    cel: str
    message: str
    holds: Callable[[Any], bool] | None
    field: str = ""
    """The path of the offending field relative to the object (".logging.level"), or "" for the object."""
    reason: str = "FieldValueForbidden"

    def schema(self) -> dict[str, pydantic.JsonValue]:
        entry: dict[str, pydantic.JsonValue] = {
            "rule": self.cel,
            "message": self.message,
            "reason": self.reason,
        }
        if self.field:
            entry["fieldPath"] = self.field
        return entry


def validations(rules: Iterable[Rule]) -> dict[str, pydantic.JsonValue]:
    """The rules as a schema's ``x-kubernetes-validations``, for a model's ``json_schema_extra``."""
    return {"x-kubernetes-validations": [rule.schema() for rule in rules]}


def check(rules: Iterable[Rule], model: Any) -> None:
    """Raise a pydantic error for the first rule the model breaks, naming the field."""
    for rule in rules:
        if rule.holds is not None and not rule.holds(model):
            raise pydantic_core.PydanticCustomError(
                RULE_ERROR, "{message}", {"message": rule.message, "field": rule.field.lstrip(".")}
            )


def _cel_literal(value: object) -> str:
    return json.dumps(value)  # true, false, numbers and double-quoted strings read the same in CEL


def get(model: Any, path: Sequence[str]) -> Any:
    """The value at a camelCase path of a model, or None where a step is unset."""
    for name in path:
        if model is None:
            return None
        model = getattr(model, alias_generators.to_snake(name))
    return model


def pin(*, field: str, environments: Sequence[str], forbidden: object, why: str) -> Rule:
    """A rule on the spec: in these environments, ``field`` (camelCase path) may not be ``forbidden``.

    An unset field is fine: the profile's default applies, and the profile never picks a forbidden value.
    """
    parts = field.split(".")
    guards = [f"!has(self.{'.'.join(parts[: index + 1])})" for index in range(len(parts))]
    environment_list = _cel_literal(list(environments))
    expression = " || ".join(
        [f"!(self.environment in {environment_list})", *guards, f"self.{field} != {_cel_literal(forbidden)}"]
    )

    def holds(spec: Any) -> bool:
        if str(spec.environment) not in environments:
            return True
        value = get(spec, parts)
        return value is None or value != forbidden

    where = " or ".join(environments)
    return Rule(
        cel=expression,
        message=f"cannot be {_cel_literal(forbidden).strip(chr(34))} in {where}: {why}",
        holds=holds,
        field=f".{field}",
    )
