"""The shipped PrometheusRule: the brief's alerts exactly, valid for promtool, and each alert firing
(and staying quiet) as its promtool unit tests say."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from controlplane import build

MONITORING = pathlib.Path(__file__).resolve().parents[2] / "manifests" / "monitoring"


def rule() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return loaded


def alerts() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rule()["spec"]["groups"] for r in group["rules"]}


def test_the_briefs_alerts_are_there_as_written() -> None:
    found = alerts()
    assert found["UnauthorizedFileWrite"]["expr"] == "filesystem_write_attempts > 0"
    assert found["SelfModificationAttempt"]["expr"] == "code_modification_attempts > 0"
    for name in ("UnauthorizedFileWrite", "SelfModificationAttempt"):
        assert found[name]["for"] == "0s"
        assert found[name]["labels"]["severity"] == "critical"


def test_every_alert_has_a_severity_and_a_summary() -> None:
    for name, alert in alerts().items():
        assert alert["labels"]["severity"] in ("critical", "warning"), name
        assert alert["annotations"]["summary"], name


@pytest.fixture
def promtool() -> str:
    binary = build.cache_dir() / "promtool"
    assert binary.is_file(), "promtool is not built; run `make controlplane`"
    return str(binary)


def test_rules_pass_promtool_and_its_unit_tests(promtool: str, tmp_path: pathlib.Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": rule()["spec"]["groups"]}, sort_keys=False)
    )
    shutil.copy(MONITORING / "prometheusrule.test.yaml", tmp_path / "test.yaml")
    checked = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_would_catch_a_broken_alert(promtool: str, tmp_path: pathlib.Path) -> None:
    groups = rule()["spec"]["groups"]
    groups[0]["rules"][0]["expr"] = "filesystem_write_attempts >"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    checked = subprocess.run(
        [promtool, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert checked.returncode != 0
