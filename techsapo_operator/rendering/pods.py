"""Hardened pod templates: every pod the operator renders is built here.

Every container runs as a non-root user with no privilege escalation, no capabilities and the
runtime's default seccomp profile; in staging and production its root file system is read-only,
and the only writable paths are size-limited emptyDirs (and Redis' data volume).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from techsapo_operator.rendering import meta

APP_UID = 10001  # every container, Redis included: a high UID no host account has
SCRATCH_SIZE = "64Mi"


@dataclass(frozen=True)
class Mount:
    """A volume and where a container mounts it; everything but scratch space is read-only."""

    name: str
    path: str
    volume: dict[str, Any]
    read_only: bool = True

    def volume_mount(self) -> dict[str, Any]:
        mount: dict[str, Any] = {"name": self.name, "mountPath": self.path}
        if self.read_only:  # the API server drops readOnly: false, so it is left out
            mount["readOnly"] = True
        return mount


def config_map_mount(name: str, path: str, config_map: str) -> Mount:
    return Mount(name=name, path=path, volume={"configMap": {"name": config_map, "defaultMode": 0o444}})


def scratch_mount(name: str, path: str, size: str = SCRATCH_SIZE) -> Mount:
    """A writable, size-limited emptyDir: the only kind of writable path besides Redis data."""
    return Mount(name=name, path=path, volume={"emptyDir": {"sizeLimit": size}}, read_only=False)


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    args: list[str]
    resources: dict[str, dict[str, str]]
    mounts: list[Mount] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    env: list[dict[str, Any]] = field(default_factory=list)
    probe: dict[str, Any] | None = None
    """A readiness check, also used (later and looser) as the liveness check."""


def container_security_context(*, read_only_root_filesystem: bool) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root_filesystem,
        "runAsNonRoot": True,
        "runAsUser": APP_UID,
        "runAsGroup": APP_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container(spec: Container, *, read_only_root_filesystem: bool) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "args": spec.args,
    }
    if spec.env:
        rendered["env"] = spec.env
    if spec.ports:
        rendered["ports"] = spec.ports
    rendered["resources"] = spec.resources
    rendered["securityContext"] = container_security_context(
        read_only_root_filesystem=read_only_root_filesystem
    )
    if spec.mounts:
        rendered["volumeMounts"] = [mount.volume_mount() for mount in spec.mounts]
    if spec.probe is not None:
        rendered["readinessProbe"] = {**spec.probe, "periodSeconds": 10, "failureThreshold": 3}
        rendered["livenessProbe"] = {
            **spec.probe,
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
            "failureThreshold": 6,
        }
    return rendered


def pod_template(
    instance: meta.Instance,
    *,
    component: str,
    service_account: str,
    containers: list[Container],
    config_hash: str,
    hostname_spread: bool = True,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A hardened pod template for one component.

    ``config_hash`` goes into an annotation, so a change of the mounted configuration rolls the pods.
    """
    read_only = instance.settings.read_only_root_filesystem
    volumes: dict[str, dict[str, Any]] = {}
    for container in containers:
        for mount in container.mounts:
            volumes.setdefault(mount.name, {"name": mount.name, **mount.volume})
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": APP_UID,
            "runAsGroup": APP_UID,
            "fsGroup": APP_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(c, read_only_root_filesystem=read_only) for c in containers],
        "terminationGracePeriodSeconds": 30,
    }
    if volumes:
        spec["volumes"] = [volumes[name] for name in sorted(volumes)]
    if hostname_spread:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": instance.selector(component)},
            }
        ]
    labels = {**instance.labels(component), **(extra_labels or {})}
    return {
        "metadata": {
            "labels": labels,
            "annotations": {
                meta.CONFIG_HASH_ANNOTATION: config_hash,
                "kubectl.kubernetes.io/default-container": containers[0].name,
            },
        },
        "spec": spec,
    }


def http_probe(port: str, path: str) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}}


def tcp_probe(port: str) -> dict[str, Any]:
    return {"tcpSocket": {"port": port}}
