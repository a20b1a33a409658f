#!/usr/bin/env bash
# Install everything the test suite needs into .venv (and Debian packages when root), then run it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  # system packages for the browser, database and font tests
  pkgs="chromium fonts-dejavu-core fonts-noto-core fonts-noto-cjk postgresql"
  missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# the CPU build of torch first: any other torch request pulls gigabytes of CUDA packages
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[all,test]'

echo "== ruff"; .venv/bin/ruff check flows tasks providers studio tests benchmarks
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest -q "$@"
