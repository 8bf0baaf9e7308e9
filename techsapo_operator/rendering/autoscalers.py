"""HorizontalPodAutoscalers: the API server scales on CPU where autoscaling is on."""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import deployments, meta


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    scaling = instance.settings.autoscaling
    if scaling is None:
        return []
    name = instance.child(deployments.API_SUFFIX)
    return [
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": instance.metadata(name, meta.API_SERVER),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": scaling.min_replicas,
                "maxReplicas": scaling.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": scaling.target_cpu_utilization_percent,
                            },
                        },
                    }
                ],
            },
        }
    ]
