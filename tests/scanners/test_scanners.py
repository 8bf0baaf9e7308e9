"""checkov and trivy, checkers this project did not write, over every rendered child and the install.

A finding fails the test unless tests/scanners/allowed-findings.yaml accepts it with a reason.
Each scanner also scans a deliberately bad manifest, so a scanner that silently checks nothing
cannot pass.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest
import yaml

from controlplane import build
from techsapo_operator import rendering, yamls
from tests import examples

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCANNERS = ROOT / ".venv-scanners" / "bin"
ALLOWED: dict[str, dict[str, dict[str, str]]] = yaml.safe_load(
    (pathlib.Path(__file__).parent / "allowed-findings.yaml").read_text()
)

BAD_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: default}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: bad
          image: nginx:latest
          securityContext: {privileged: true}
"""


def scanner(name: str) -> str:
    path = SCANNERS / name
    assert path.is_file(), f"{name} is not installed; run `make scanners`"
    return str(path)


def checkov(path: pathlib.Path, skips: dict[str, str]) -> list[str]:
    """Failed checks, as 'CHECK_ID resource'."""
    arguments = [
        scanner("checkov"),
        "-f",
        str(path),
        "--framework",
        "kubernetes",
        "--quiet",
        "--compact",
        "--skip-download",
        "-o",
        "json",
    ]
    if skips:
        arguments += ["--skip-check", ",".join(sorted(skips))]
    result = subprocess.run(
        arguments,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return sorted(
        f"{check['check_id']} {check['resource']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    )


def trivy(path: pathlib.Path, skips: dict[str, str], cache: pathlib.Path) -> list[str]:
    """Misconfigurations found, as 'ID target: title', from trivy's built-in checks (offline)."""
    result = subprocess.run(
        [
            scanner("trivy"),
            "config",
            "--skip-check-update",
            "--quiet",
            "--format",
            "json",
            "--cache-dir",
            str(cache),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    return sorted(
        f"{m['ID']} {r['Target']}: {m['Title']}"
        for r in report.get("Results", [])
        for m in r.get("Misconfigurations") or []
        if m["ID"] not in skips
    )


def rendered(environment: str, folder: pathlib.Path) -> pathlib.Path:
    path = folder / f"{environment}.yaml"
    path.write_text(yamls.dump_all(rendering.render(examples.techsapo(environment))))
    return path


def install(folder: pathlib.Path) -> pathlib.Path:
    kubectl = build.cache_dir() / "kubectl"
    assert kubectl.is_file(), "kubectl is not built; run `make controlplane`"
    built = subprocess.run(
        [str(kubectl), "kustomize", str(ROOT / "manifests" / "base")],
        capture_output=True,
        text=True,
        check=True,
    )
    path = folder / "install.yaml"
    path.write_text(built.stdout)
    return path


def skips(tool: str, *scopes: str) -> dict[str, str]:
    return {check: reason for scope in scopes for check, reason in ALLOWED[scope].get(tool, {}).items()}


def scopes_of(environment: str) -> tuple[str, ...]:
    return ("children", "dev") if environment == "dev" else ("children",)


def test_every_accepted_finding_says_why() -> None:
    for scope, tools in ALLOWED.items():
        for tool, checks in tools.items():
            for check, reason in checks.items():
                assert len(reason.split()) >= 5, f"{scope}/{tool}/{check} needs a reason"


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_checkov_finds_nothing_unexplained_in_the_children(environment: str, tmp_path: pathlib.Path) -> None:
    assert checkov(rendered(environment, tmp_path), skips("checkov", *scopes_of(environment))) == []


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_trivy_finds_nothing_unexplained_in_the_children(environment: str, tmp_path: pathlib.Path) -> None:
    found = trivy(
        rendered(environment, tmp_path), skips("trivy", *scopes_of(environment)), tmp_path / "cache"
    )
    assert found == []


def test_checkov_finds_nothing_unexplained_in_the_install(tmp_path: pathlib.Path) -> None:
    assert checkov(install(tmp_path), skips("checkov", "install")) == []


def test_trivy_finds_nothing_unexplained_in_the_install(tmp_path: pathlib.Path) -> None:
    assert trivy(install(tmp_path), skips("trivy", "install"), tmp_path / "cache") == []


def test_both_scanners_report_a_bad_manifest(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_DEPLOYMENT)
    assert any(line.startswith("CKV_K8S_16 ") for line in checkov(bad, {})), "checkov missed a privileged pod"
    found = trivy(bad, {}, tmp_path / "cache")
    assert any(line.startswith("KSV-0017 ") for line in found), found
