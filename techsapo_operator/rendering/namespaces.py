"""Labels for the namespace of a staging or production instance: Pod Security ``restricted``,
enforced at a pinned version, and the marker the read-only admission policy selects on."""

from __future__ import annotations

from techsapo_operator.rendering import meta
from techsapo_operator.vocabulary import Environment

HARDENED_LABEL = "techsapo.io/hardened"
POD_SECURITY_VERSION = "v1.37"  # the Kubernetes release the operator is tested against


HARDENED_LABELS = {
    **{f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")},
    **{
        f"pod-security.kubernetes.io/{mode}-version": POD_SECURITY_VERSION
        for mode in ("enforce", "warn", "audit")
    },
    HARDENED_LABEL: "true",
}


def labels(instance: meta.Instance) -> dict[str, str]:
    """The labels the instance needs on its namespace; none in dev, which may run writable."""
    if instance.settings.environment is Environment.DEV:
        return {}
    return dict(HARDENED_LABELS)
