"""Turning untrusted documents into TechSapo models, with errors that name the field and the rule."""

from __future__ import annotations

from typing import Any

import pydantic

from techsapo_operator import models, rules

_MESSAGES = {
    "extra_forbidden": "unknown field; check its spelling (`kubectl explain techsapo.spec` lists the fields)",
    "missing": "required field is missing",
}


class InvalidTechSapoError(ValueError):
    """A document that is not a valid TechSapo; ``problems`` has one line per broken rule."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def describe(error: pydantic.ValidationError) -> list[str]:
    """One line per problem: ``field.path: what is wrong, and what to do``."""
    lines = []
    for problem in error.errors(include_url=False):
        location = tuple(problem["loc"])
        message = _MESSAGES.get(problem["type"], problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == rules.RULE_ERROR and problem.get("ctx", {}).get("field"):
            location += tuple(problem["ctx"]["field"].split("."))
        lines.append(f"{_path(location)}: {message}")
    return lines


def parse(document: Any) -> models.TechSapo:
    """Validate one document as a TechSapo; raises InvalidTechSapoError naming every problem."""
    if not isinstance(document, dict):
        raise InvalidTechSapoError(
            [
                f"(document): expected a mapping with apiVersion, kind, metadata and spec, "
                f"got {type(document).__name__}"
            ]
        )
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if kind != models.KIND or api_version != models.API_VERSION:
        raise InvalidTechSapoError(
            [f"kind: expected {models.API_VERSION} {models.KIND}, got {api_version} {kind}"]
        )
    try:
        return models.TechSapo.model_validate(document)
    except pydantic.ValidationError as error:
        raise InvalidTechSapoError(describe(error)) from None
