#!/usr/bin/env bash
# Create Aura's work pools on the Prefect server at PREFECT_API_URL; safe to run again.
#
#   aura-cpu   process pool for the on-demand, daily and smoke deployments
#   aura-gpu   process pool for the gpu deployment; its concurrency limit is the number of GPUs
#              behind it (AURA_GPU_COUNT, default 1), and each GPU worker takes one run at a time
set -euo pipefail

prefect="${PREFECT:-prefect}"
for pool in aura-cpu aura-gpu; do
  if "$prefect" work-pool inspect "$pool" >/dev/null 2>&1; then
    echo "work pool $pool: exists"
  else
    "$prefect" work-pool create "$pool" --type process
  fi
done
"$prefect" work-pool set-concurrency-limit aura-gpu "${AURA_GPU_COUNT:-1}"
