#!/usr/bin/env bash
# make demo-down: stop the demo's operator and the local control plane, and remove their state.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .cluster/operator.pid ]; then
  pid=$(cat .cluster/operator.pid)
  if kill -0 "$pid" 2>/dev/null && grep -q techsapo-operator "/proc/$pid/cmdline"; then
    kill "$pid" && echo "operator: stopped (pid $pid)"
  fi
  rm -f .cluster/operator.pid
fi
.venv/bin/python -m controlplane.cluster down
