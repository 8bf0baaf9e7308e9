"""Fixtures for the gateway tests."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tests.gateway.peers import Peers, running


@pytest.fixture
def peers(tmp_path: pathlib.Path) -> Iterator[Peers]:
    with running(tmp_path) as started:
        yield started
