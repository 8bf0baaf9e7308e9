"""The renderer: a pure function from a TechSapo to every child object the operator owns.

No I/O, no clock, no randomness: the same TechSapo always renders the same objects, so the
operator can apply them blindly and ``techsapo-operator render`` shows exactly what it applies.
One module per child kind; ``render`` lists them in the order they are applied.
"""

from __future__ import annotations

from typing import Any

from techsapo_operator import models
from techsapo_operator.rendering import (
    autoscalers,
    configmaps,
    deployments,
    disruptionbudgets,
    jobs,
    meta,
    networkpolicies,
    serviceaccounts,
    services,
    statefulsets,
)

# Dependencies first: identities and configuration before the workloads that use them.
RENDERERS = (
    serviceaccounts.render,
    configmaps.render,
    networkpolicies.render,
    services.render,
    statefulsets.render,
    jobs.render,
    deployments.render,
    disruptionbudgets.render,
    autoscalers.render,
)


def render(techsapo: models.TechSapo) -> list[dict[str, Any]]:
    """Every child object of the TechSapo, built fresh from its spec."""
    instance = meta.Instance.of(techsapo)
    return [child for renderer in RENDERERS for child in renderer(instance)]
