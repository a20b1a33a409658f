#!/usr/bin/env bash
# Start one Prefect worker for an Aura work pool. Run it on every machine that should render.
#
#   deployments/worker.sh                  # a CPU worker on aura-cpu
#   deployments/worker.sh aura-gpu 0       # a GPU worker bound to GPU 0, one run at a time
#
# The worker needs PREFECT_API_URL (the server's /api URL), this repository at the path it was
# deployed from (see the pull step in prefect.yaml), and AURA_HOME plus PREFECT_LOCAL_STORAGE_PATH
# on storage every worker shares, so that a run resumed on another worker finds its checkpoints.
set -euo pipefail

pool="${1:-aura-cpu}"
gpu="${2:-}"
args=(worker start --pool "$pool" --name "${AURA_WORKER_NAME:-$(hostname)-${pool}${gpu:+-gpu$gpu}}")
if [ -n "$gpu" ]; then
  export CUDA_VISIBLE_DEVICES="$gpu"
  args+=(--limit 1)  # one diffusion job per GPU
elif [ -n "${AURA_WORKER_LIMIT:-}" ]; then
  args+=(--limit "$AURA_WORKER_LIMIT")
fi
exec "${PREFECT:-prefect}" "${args[@]}"
