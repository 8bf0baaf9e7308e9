"""The operator's Prometheus metrics, served by ``techsapo-operator run --metrics-address``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter("techsapo_reconcile_total", "Reconciles of TechSapo instances, by outcome.", ["outcome"])
RECONCILE_ERRORS = Counter(
    "techsapo_reconcile_errors_total", "Reconciles that failed, by the step that failed.", ["step"]
)
RECONCILE_DURATION = Histogram(
    "techsapo_reconcile_duration_seconds",
    "Time one reconcile took, by outcome.",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DRIFT_CORRECTIONS = Counter(
    "techsapo_drift_corrections_total",
    "Children put back after someone changed or deleted them, by kind.",
    ["kind"],
)
INSTANCES = Gauge(
    "techsapo_instances", "TechSapo instances, by environment and readiness.", ["environment", "ready"]
)
PAUSED = Gauge("techsapo_paused_instances", "TechSapo instances with reconciliation paused.")
QUEUE_DEPTH = Gauge("techsapo_workqueue_depth", "Instances waiting to be reconciled.")
API_REQUESTS = Counter(
    "techsapo_api_requests_total",
    "Requests the operator made to the API server.",
    ["verb", "resource", "code"],
)
LEADER = Gauge("techsapo_leader", "1 while this replica holds the leader Lease and acts, else 0.")
EVENT_LOOP_LAG = Histogram(
    "techsapo_event_loop_lag_seconds",
    "How late the event loop ran a timer: time the loop was busy and could not react.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
