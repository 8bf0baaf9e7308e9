"""Proof that the local control plane is real: scheduling, readiness, garbage collection, Jobs,
Pod Security admission and CEL validation all come from the real Kubernetes components."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from controlplane import cluster as local_cluster
from tests.integration import kube

PAUSE = "registry.k8s.io/pause:3.10"  # kwok runs no containers; the image is never pulled


def hardened_container(name: str) -> client.V1Container:
    return client.V1Container(
        name=name,
        image=PAUSE,
        security_context=client.V1SecurityContext(
            allow_privilege_escalation=False,
            run_as_non_root=True,
            run_as_user=10001,
            capabilities=client.V1Capabilities(drop=["ALL"]),
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
        ),
    )


def deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[hardened_container("main")]),
            ),
        ),
    )


def test_nodes_are_ready(api: client.ApiClient) -> None:
    nodes = client.CoreV1Api(api).list_node().items
    ready = [
        n.metadata.name
        for n in nodes
        if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
    ]
    assert len(ready) >= local_cluster.NODE_COUNT


def test_deployment_pods_are_scheduled_running_and_ready(api: client.ApiClient, namespace: str) -> None:
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("web", 3))
    core = client.CoreV1Api(api)

    def ready_pods() -> list[client.V1Pod]:
        pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
        ready = [
            p
            for p in pods
            if p.status.phase == "Running"
            and p.spec.node_name
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        return ready if len(ready) == 3 else []

    pods = kube.wait_for(ready_pods, what="3 Running and Ready pods of Deployment web")
    assert {p.spec.node_name for p in pods} <= {f"kwok-node-{i}" for i in range(local_cluster.NODE_COUNT)}
    status = kube.wait_for(
        lambda: (
            (
                d := client.AppsV1Api(api).read_namespaced_deployment_status("web", namespace)
            ).status.ready_replicas
            == 3
            and d
        ),
        what="the Deployment to report 3 ready replicas",
    )
    assert status.status.available_replicas == 3


def test_deleting_an_owner_garbage_collects_its_dependents(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    reference = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dependent", owner_references=[reference])),
    )
    core.delete_namespaced_config_map("owner", namespace)
    kube.wait_for(
        lambda: not kube.exists(lambda: core.read_namespaced_config_map("dependent", namespace)),
        what="the garbage collector to delete the dependent ConfigMap",
    )


def test_job_completes(api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(
        namespace,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="once"),
            spec=client.V1JobSpec(
                backoff_limit=0,
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(restart_policy="Never", containers=[hardened_container("run")])
                ),
            ),
        ),
    )
    job = kube.wait_for(
        lambda: (j := batch.read_namespaced_job_status("once", namespace)).status.succeeded and j,
        what="Job once to succeed",
    )
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)


def test_restricted_namespace_rejects_a_privileged_pod(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.patch_namespace(
        namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    privileged = client.V1Pod(
        metadata=client.V1ObjectMeta(name="privileged"),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="main", image=PAUSE, security_context=client.V1SecurityContext(privileged=True)
                )
            ]
        ),
    )
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod(namespace, privileged)
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in json.loads(refused.value.body or "{}")["message"]
    hardened = client.V1Pod(
        metadata=client.V1ObjectMeta(name="hardened"),
        spec=client.V1PodSpec(containers=[hardened_container("main")]),
    )
    core.create_namespaced_pod(namespace, hardened)  # the same namespace admits a restricted pod


def test_crd_with_cel_rejects_a_bad_object_with_its_message(
    cluster: local_cluster.Cluster, namespace: str
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.techsapo.io"},
        "spec": {
            "group": "test.techsapo.io",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
                                    "x-kubernetes-validations": [
                                        {"rule": "self.min <= self.max", "message": "min must not exceed max"}
                                    ],
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps(crd))
    cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.test.techsapo.io")
    widget = {
        "apiVersion": "test.techsapo.io/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": namespace},
    }
    bad = cluster.kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        check=False,
        stdin=json.dumps(widget | {"spec": {"min": 5, "max": 1}}),
    )
    assert bad.returncode != 0
    assert "spec: Invalid value: min must not exceed max" in bad.stderr
    good = cluster.kubectl(
        "apply", "--server-side", "-f", "-", stdin=json.dumps(widget | {"spec": {"min": 1, "max": 5}})
    )
    assert good.returncode == 0
    cluster.kubectl("delete", "crd", "widgets.test.techsapo.io", "--wait=false")
