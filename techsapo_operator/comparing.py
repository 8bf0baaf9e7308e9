"""Does a live object already hold everything the operator wants in it?

The question drift correction asks, without a write: every field of the desired object must be
in the live one with the same value. Fields only the live object has (defaults, status, other
managers' additions) do not count. Lists of named items (containers, ports, env, volumes) are
matched by name, as server-side apply merges them; other lists must match item for item.
Quantities compare by value, since the API server rewrites them (0.5 becomes 500m).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|)$")
_IGNORED = frozenset({"apiVersion", "kind"})


def quantity(value: Any) -> Decimal | None:
    """The value of a resource quantity ("10Gi", "500m", 3), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


def _same_scalar(desired: Any, live: Any) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, str) and isinstance(live, str | int):
        left, right = quantity(desired), quantity(live)
        return left is not None and left == right
    return False


def _is_empty(value: Any) -> bool:
    return value in ({}, [], None)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """The paths where live lacks what desired has; empty when live holds all of it."""
    if isinstance(desired, dict | list) and not isinstance(live, type(desired)):
        return [] if _is_empty(desired) and live is None else [path or "."]
    if isinstance(desired, dict):
        return _dict_differences(desired, live, path)
    if isinstance(desired, list):
        return _list_differences(desired, live, path)
    return [] if _same_scalar(desired, live) else [path]


def _dict_differences(desired: dict[str, Any], live: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    for key, value in desired.items():
        if path == "" and key in _IGNORED:
            continue
        found += differences(value, live.get(key), f"{path}.{key}")
    return found


def _list_differences(desired: list[Any], live: list[Any], path: str) -> list[str]:
    if _named(desired) and _named(live):
        by_name = {item["name"]: item for item in live}
        found: list[str] = []
        for item in desired:
            where = f"{path}[{item['name']}]"
            found += differences(item, by_name[item["name"]], where) if item["name"] in by_name else [where]
        return found
    if len(desired) != len(live):
        return [path]
    return [
        found
        for index, (wanted, actual) in enumerate(zip(desired, live, strict=True))
        for found in differences(wanted, actual, f"{path}[{index}]")
    ]


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Every scalar of a document by its path, with named list items addressed by name."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            if path == "" and key in _IGNORED:
                continue
            flat.update(flatten(item, f"{path}.{key}"))
        return flat
    if isinstance(value, list):
        if _named(value):
            return {k: v for item in value for k, v in flatten(item, f"{path}[{item['name']}]").items()}
        return {
            k: v for index, item in enumerate(value) for k, v in flatten(item, f"{path}[{index}]").items()
        }
    return {path: value}
