"""Jobs: the one-shot bootstrap that forms a Redis Cluster, without pods/exec.

The script is idempotent: it waits for every node, does nothing when the cluster is already
formed (``cluster_state:ok``), refuses to touch a half-formed one, and otherwise runs the official
``redis-cli --cluster create``. Its name carries a hash of the topology, because a Job's template
cannot change: a new topology is a new Job, and the old one is pruned.
"""

from __future__ import annotations

from typing import Any

from techsapo_operator.rendering import configmaps, meta, pods, statefulsets
from techsapo_operator.vocabulary import RedisMode

BOOTSTRAP_SUFFIX = "redis-bootstrap"
BOOTSTRAP_COMPONENT = "redis-bootstrap"

# Reads REDIS_NODES (host:port ...), REDIS_REPLICAS and REDIS_WAIT_SECONDS from the environment.
BOOTSTRAP_SCRIPT = r"""set -eu
first="${REDIS_NODES%% *}"
host() { echo "${1%:*}"; }
port() { echo "${1##*:}"; }
deadline=$(( $(date +%s) + ${REDIS_WAIT_SECONDS:-300} ))
for node in $REDIS_NODES; do
  until redis-cli -h "$(host "$node")" -p "$(port "$node")" ping 2>/dev/null | grep -q PONG; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "redis node $node never answered" >&2; exit 1; fi
    sleep 1
  done
done
info=$(redis-cli -h "$(host "$first")" -p "$(port "$first")" cluster info)
if echo "$info" | grep -q '^cluster_state:ok'; then
  echo "the cluster is already formed; nothing to do"
  exit 0
fi
assigned=$(echo "$info" | sed -n 's/^cluster_slots_assigned:\([0-9]*\).*/\1/p')
if [ "${assigned:-0}" != "0" ]; then
  echo "the cluster is half formed ($assigned slots assigned); not touching it" >&2
  exit 1
fi
addresses=""
for node in $REDIS_NODES; do
  address=$(getent hosts "$(host "$node")" | awk '{print $1; exit}')
  addresses="$addresses ${address:-$(host "$node")}:$(port "$node")"
done
redis-cli --cluster create $addresses --cluster-replicas "$REDIS_REPLICAS" --cluster-yes
# Formed means every node serves every slot and can name every peer it redirects clients to.
settled() {
  redis-cli -h "$(host "$1")" -p "$(port "$1")" cluster info | grep -q '^cluster_state:ok' &&
    ! redis-cli -h "$(host "$1")" -p "$(port "$1")" cluster slots | grep -qx '?'
}
for node in $REDIS_NODES; do
  until settled "$node"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "node $node never settled" >&2; exit 1; fi
    sleep 1
  done
done
echo "the cluster is formed"
"""


def nodes(instance: meta.Instance) -> list[str]:
    """host:port of every Redis pod, by its stable DNS name."""
    redis = instance.settings.redis
    statefulset, service = statefulsets.name(instance), statefulsets.headless_service(instance)
    return [
        f"{statefulset}-{index}.{service}.{instance.namespace}.svc:{configmaps.REDIS_PORT}"
        for index in range(redis.pods)
    ]


def bootstrap_name(instance: meta.Instance) -> str:
    redis = instance.settings.redis
    topology = meta.content_hash(nodes(instance), redis.replicas_per_shard)[:8]
    return instance.child(f"{BOOTSTRAP_SUFFIX}-{topology}")


def bootstrap(instance: meta.Instance) -> dict[str, Any]:
    redis = instance.settings.redis
    container = pods.Container(
        name="bootstrap",
        image=redis.image,
        args=["sh", "-c", BOOTSTRAP_SCRIPT],
        resources=redis.resources,
        mounts=[pods.scratch_mount("tmp", "/tmp")],
        env=[
            {"name": "REDIS_NODES", "value": " ".join(nodes(instance))},
            {"name": "REDIS_REPLICAS", "value": str(redis.replicas_per_shard)},
            {"name": "REDIS_WAIT_SECONDS", "value": "300"},
        ],
    )
    template = pods.pod_template(
        instance,
        component=BOOTSTRAP_COMPONENT,
        service_account=instance.child(BOOTSTRAP_SUFFIX),
        containers=[container],
        config_hash=meta.content_hash(BOOTSTRAP_SCRIPT),
        hostname_spread=False,
    )
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": instance.metadata(bootstrap_name(instance), BOOTSTRAP_COMPONENT),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 900,
            "template": template,  # no TTL: the finished Job is the evidence RedisReady reads
        },
    }


def render(instance: meta.Instance) -> list[dict[str, Any]]:
    if instance.settings.redis.mode is not RedisMode.CLUSTER:
        return []
    return [bootstrap(instance)]
