#!/usr/bin/env bash
# make demo: the local control plane, the install, the operator, the three examples, the result.
set -euo pipefail
cd "$(dirname "$0")/.."
kubectl() { .cluster/bin/kubectl --kubeconfig .cluster/kubeconfig "$@"; }
operator() { .venv/bin/techsapo-operator "$@"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "the local control plane (built from Go modules, or taken from the cache)"
.venv/bin/python -m controlplane.cluster up

step "install: the CRD, RBAC, the admission policies, an approver binding (group techsapo-admins)"
kubectl apply --server-side --force-conflicts -k manifests/base
kubectl apply --server-side -f manifests/examples/approver-binding.yaml
kubectl wait --for=condition=Established crd/techsapos.techsapo.io --timeout=60s

step "the operator, as its own ServiceAccount (kwok runs no containers, so it runs here)"
if [ -f .cluster/operator.pid ] && kill -0 "$(cat .cluster/operator.pid)" 2>/dev/null; then
  echo "already running (pid $(cat .cluster/operator.pid))"
else
  .venv/bin/python -c 'import pathlib; from controlplane import cluster
cluster.Cluster.default().service_account_kubeconfig("techsapo-system", "techsapo-operator",
    pathlib.Path(".cluster/operator.kubeconfig").resolve(), duration="24h")'
  nohup .venv/bin/techsapo-operator run --kubeconfig .cluster/operator.kubeconfig --log-format text \
    --health-address 127.0.0.1:18080 --metrics-address 127.0.0.1:19090 > .cluster/logs/operator.log 2>&1 &
  echo $! > .cluster/operator.pid
  echo "started (pid $!), log: .cluster/logs/operator.log, metrics: http://127.0.0.1:19090/metrics"
fi

step "the three examples, applied as a GitOps tool would"
for environment in dev staging production; do
  namespace=$(sed -n 's/^  namespace: //p' "examples/$environment.yaml")
  kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  kubectl apply --server-side --field-manager=gitops -f "examples/$environment.yaml"
done

step "production waits for an admin's approval; approving it as alice"
for _ in $(seq 60); do
  pending=$(kubectl -n techsapo-production get techsapo techsapo -o jsonpath='{.status.pendingChange.hash}')
  approved=$(kubectl -n techsapo-production get techsapo techsapo -o jsonpath='{.status.approved.hash}')
  [ -n "$pending" ] || [ -n "$approved" ] && break
  sleep 1
done
if [ -n "$pending" ]; then
  operator status techsapo -n techsapo-production --kubeconfig .cluster/kubeconfig | sed -n '/^pending change/,/^  approve/p' | head -5
  operator approve techsapo -n techsapo-production --kubeconfig .cluster/kubeconfig --as alice --as-group techsapo-admins
else
  echo "already approved ($approved)"
fi

step "waiting until every instance is Ready"
kubectl wait --for=condition=Ready techsapo --all -A --timeout=300s

step "the result"
kubectl get techsapo -A
echo
kubectl -n techsapo-production get deployments,statefulsets,jobs,services,networkpolicies,poddisruptionbudgets
echo
operator status techsapo -n techsapo-production --kubeconfig .cluster/kubeconfig | sed -n '1,15p'

cat <<'NEXT'

Try next (export KUBECONFIG=$PWD/.cluster/kubeconfig; kubectl is .cluster/bin/kubectl):
  change production's image and approve it:
    kubectl -n techsapo-production patch techsapo techsapo --type=merge -p '{"spec":{"image":"ghcr.io/techsapo/techsapo:1.5.0"}}'
    .venv/bin/techsapo-operator status techsapo -n techsapo-production
    .venv/bin/techsapo-operator approve techsapo -n techsapo-production --as alice --as-group techsapo-admins
  tamper with the policy and watch it come back (and the DriftReverted event):
    kubectl -n techsapo-production patch configmap techsapo-mcp-security-config --type=merge -p '{"data":{"allowed_operations":"read,write"}}'
    kubectl -n techsapo-production get events --field-selector reason=DriftReverted
  try a writable Deployment where production runs (the admission policy refuses it):
    kubectl -n techsapo-production create deployment writable --image=registry.k8s.io/pause:3.10
Stop everything with: make demo-down
NEXT
