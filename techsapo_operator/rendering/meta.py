"""Names, labels and owner references shared by every child object."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from techsapo_operator import models, profiles

MANAGED_BY = "techsapo-operator"
PART_OF = "techsapo"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ENVIRONMENT_LABEL = "techsapo.io/environment"
CONFIG_HASH_ANNOTATION = "techsapo.io/config-hash"

API_SERVER = "api-server"
WALL_BOUNCE = "wall-bounce"
MCP_PROXY = "mcp-proxy"
REDIS = "redis"
CONFIG = "config"
POLICY = "policy"
NETWORK = "network"


@dataclass(frozen=True)
class Instance:
    """One TechSapo as the renderer sees it: identity plus settings with the profile applied."""

    name: str
    namespace: str
    uid: str
    settings: profiles.Settings

    @classmethod
    def of(cls, techsapo: models.TechSapo) -> Instance:
        return cls(
            name=techsapo.metadata.name,
            namespace=techsapo.metadata.namespace,
            uid=techsapo.metadata.uid,
            settings=profiles.resolve(techsapo.spec),
        )

    def child(self, suffix: str) -> str:
        """The deterministic name of a child: the instance name, a dash, the suffix."""
        return f"{self.name}-{suffix}"

    def selector(self, component: str) -> dict[str, str]:
        """The labels that pick one component's pods; stable for the life of the instance."""
        return {NAME_LABEL: PART_OF, INSTANCE_LABEL: self.name, COMPONENT_LABEL: component}

    def instance_selector(self) -> dict[str, str]:
        """The labels that pick every pod of this instance."""
        return {NAME_LABEL: PART_OF, INSTANCE_LABEL: self.name}

    def labels(self, component: str) -> dict[str, str]:
        return {
            **self.selector(component),
            "app.kubernetes.io/part-of": PART_OF,
            MANAGED_BY_LABEL: MANAGED_BY,
            ENVIRONMENT_LABEL: self.settings.environment.value,
        }

    def owner_references(self) -> list[dict[str, Any]]:
        """A controller reference to the TechSapo, so garbage collection removes the child with it.

        Empty when the TechSapo has no uid yet (rendered from a file, never stored).
        """
        if not self.uid:
            return []
        return [
            {
                "apiVersion": models.API_VERSION,
                "kind": models.KIND,
                "name": self.name,
                "uid": self.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    def metadata(self, name: str, component: str, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "namespace": self.namespace, "labels": self.labels(component)}
        owners = self.owner_references()
        if owners:
            meta["ownerReferences"] = owners
        meta.update(extra)
        return meta


def content_hash(*objects: Any) -> str:
    """A short, stable hash of JSON-serialisable content (key order does not matter)."""
    encoded = json.dumps(objects, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]
