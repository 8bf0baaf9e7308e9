"""The generated CRD on the real API server: it accepts the examples, refuses what the operator
refuses with the same field and message, and the rendered children apply cleanly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlplane import cluster as local_cluster
from techsapo_operator import rendering, validation, yamls
from tests import cases, examples

pytestmark = pytest.mark.usefixtures("techsapo_crd")


def apply(cluster: local_cluster.Cluster, document: dict[str, Any], *extra: str) -> Any:
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager=test",
        *extra,
        "-f",
        "-",
        stdin=json.dumps(document),
        check=False,
    )


def in_namespace(document: dict[str, Any], namespace: str) -> dict[str, Any]:
    document["metadata"]["namespace"] = namespace
    return document


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_examples_are_accepted(cluster: local_cluster.Cluster, namespace: str, environment: str) -> None:
    result = apply(cluster, in_namespace(examples.document(environment), namespace))
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr


@pytest.mark.parametrize("case", cases.bad_cases())
def test_api_server_refuses_what_the_operator_refuses(
    cluster: local_cluster.Cluster, namespace: str, case: cases.Bad
) -> None:
    document = in_namespace(examples.with_changes(case.environment, case.changes), namespace)
    with pytest.raises(validation.InvalidTechSapoError):
        validation.parse(document)
    result = apply(cluster, document)
    assert result.returncode != 0, f"the API server accepted {case.id}"
    assert case.field in result.stderr and case.expected_server_message in result.stderr, result.stderr


@pytest.mark.parametrize(("environment", "changes"), cases.good_cases())
def test_api_server_accepts_what_the_operator_accepts(
    cluster: local_cluster.Cluster, namespace: str, environment: str, changes: dict[str, Any]
) -> None:
    document = in_namespace(examples.with_changes(environment, changes), namespace)
    validation.parse(document)
    result = apply(cluster, document)
    assert result.returncode == 0, result.stderr


def test_environment_cannot_change_after_creation(cluster: local_cluster.Cluster, namespace: str) -> None:
    document = in_namespace(examples.document("staging"), namespace)
    assert apply(cluster, document).returncode == 0
    document["spec"]["environment"] = "dev"
    result = apply(cluster, document)
    assert result.returncode != 0
    assert "spec.environment: Invalid value: cannot change after creation" in result.stderr


@pytest.mark.parametrize("changes", [{"redis.shards": 4}, {"redis.replicasPerShard": 2}])
def test_redis_topology_cannot_change_once_created(
    cluster: local_cluster.Cluster, namespace: str, changes: dict[str, Any]
) -> None:
    assert apply(cluster, in_namespace(examples.document("staging"), namespace)).returncode == 0
    result = apply(cluster, in_namespace(examples.with_changes("staging", changes), namespace))
    assert result.returncode != 0
    assert "spec.redis.shards: Forbidden: cannot change once the instance exists: resharding moves keys" in (
        result.stderr
    ), result.stderr


@pytest.mark.parametrize("environment", examples.ENVIRONMENTS)
def test_rendered_children_apply_in_a_restricted_namespace_without_warnings(
    cluster: local_cluster.Cluster, namespace: str, environment: str
) -> None:
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
        "pod-security.kubernetes.io/enforce-version=v1.37",
        "pod-security.kubernetes.io/warn-version=v1.37",
    )
    techsapo = examples.techsapo(environment)
    children = rendering.render(
        techsapo.model_copy(
            update={"metadata": techsapo.metadata.model_copy(update={"namespace": namespace, "uid": ""})}
        )
    )
    result = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=techsapo-operator",
        "-f",
        "-",
        stdin=yamls.dump_all(children),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(children)
