"""The API resources the operator reads and writes, and where each lives in the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from techsapo_operator import models


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(
        self, *, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path: all namespaces when namespace is None, the collection when name is None."""
        prefix = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        parts = [prefix]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{quote(namespace)}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name))
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)


TECHSAPO = Kind(models.API_VERSION, models.KIND, models.PLURAL)
EVENT = Kind("v1", "Event", "events")
NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
RESOURCE_QUOTA = Kind("v1", "ResourceQuota", "resourcequotas")
LEASE = Kind("coordination.k8s.io/v1", "Lease", "leases")
SELF_SUBJECT_REVIEW = Kind(
    "authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False
)

SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts")
CONFIG_MAP = Kind("v1", "ConfigMap", "configmaps")
SERVICE = Kind("v1", "Service", "services")
NETWORK_POLICY = Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")
STATEFUL_SET = Kind("apps/v1", "StatefulSet", "statefulsets")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
JOB = Kind("batch/v1", "Job", "jobs")
POD_DISRUPTION_BUDGET = Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")
HORIZONTAL_POD_AUTOSCALER = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")

# Every kind the renderer produces: watched, applied and pruned.
CHILDREN = (
    SERVICE_ACCOUNT,
    CONFIG_MAP,
    SERVICE,
    NETWORK_POLICY,
    STATEFUL_SET,
    JOB,
    DEPLOYMENT,
    POD_DISRUPTION_BUDGET,
    HORIZONTAL_POD_AUTOSCALER,
)
_BY_TYPE = {(kind.api_version, kind.kind): kind for kind in (*CHILDREN, TECHSAPO, EVENT, NAMESPACE)}


def of(body: dict[str, Any]) -> Kind:
    """The kind of an object; raises KeyError for a kind the operator does not manage."""
    return _BY_TYPE[(body["apiVersion"], body["kind"])]


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Which object: its kind, namespace and name."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> ObjectKey:
        metadata = body["metadata"]
        return cls(kind=body["kind"], namespace=metadata.get("namespace", ""), name=metadata["name"])

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"
