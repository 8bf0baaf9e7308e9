"""The command line as a user runs it: a real subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import yaml

from tests import examples

USAGE_ERROR = 2


def run(*arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "techsapo_operator", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_render_prints_the_children_as_a_yaml_stream(environment: str) -> None:
    result = run("render", "-f", str(examples.EXAMPLES / f"{environment}.yaml"))
    assert result.returncode == 0, result.stderr
    kinds = {document["kind"] for document in yaml.safe_load_all(result.stdout)}
    assert {"Deployment", "Service", "ConfigMap", "NetworkPolicy", "StatefulSet", "ServiceAccount"} <= kinds


def test_render_reads_standard_input() -> None:
    result = run("render", "-f", "-", stdin=(examples.EXAMPLES / "dev.yaml").read_text())
    assert result.returncode == 0, result.stderr
    assert "techdev-mcp-security-config" in result.stdout


def test_crd_prints_the_committed_crd() -> None:
    result = run("crd")
    assert result.returncode == 0
    committed = pathlib.Path(__file__).resolve().parents[2] / "crds" / "techsapo.io_techsapos.yaml"
    assert result.stdout == committed.read_text()


def broken(tmp_path: pathlib.Path, text: str) -> str:
    path = tmp_path / "techsapo.yaml"
    path.write_text(text)
    return str(path)


def production_with(old: str, new: str) -> str:
    text = (examples.EXAMPLES / "production.yaml").read_text()
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("spec: [unclosed", "malformed YAML", id="malformed-yaml"),
        pytest.param(
            production_with("  wallBounce:", "  wallBouncee:"),
            "spec.wallBouncee: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            production_with("kind: TechSapo", "kind: Deployment"),
            "kind: expected techsapo.io/v1alpha1 TechSapo, got techsapo.io/v1alpha1 Deployment",
            id="wrong-kind",
        ),
        pytest.param(
            production_with("level: INFO", "level: DEBUG"),
            "spec.logging.level: cannot be DEBUG in production",
            id="forbidden-override",
        ),
        pytest.param("", "holds no document", id="empty"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_2(
    tmp_path: pathlib.Path, text: str, expected: str
) -> None:
    result = run("render", "-f", broken(tmp_path, text))
    assert result.returncode == USAGE_ERROR
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]


def test_missing_file_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    result = run("render", "-f", str(tmp_path / "absent.yaml"))
    assert result.returncode == USAGE_ERROR
    assert "cannot read: No such file or directory" in result.stderr


def test_leader_election_timing_that_cannot_work_is_refused_before_anything_runs() -> None:
    result = run("run", "--leader-elect", "--lease-seconds", "5", "--renew-deadline-seconds", "10")
    assert result.returncode == USAGE_ERROR
    assert result.stderr.strip() == (
        "error: --lease-seconds, --renew-deadline-seconds, --retry-seconds: "
        "leader election needs retry < renew deadline < lease duration"
    )
