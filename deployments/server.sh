#!/usr/bin/env bash
# Start the Prefect server (API and UI). SQLite under PREFECT_HOME by default; set
# PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/prefect for PostgreSQL.
#
#   AURA_SERVER_HOST   address to listen on (default 127.0.0.1; 0.0.0.0 to serve other hosts)
#   AURA_SERVER_PORT   port (default 4200)
set -euo pipefail

export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
host="${AURA_SERVER_HOST:-127.0.0.1}"
port="${AURA_SERVER_PORT:-4200}"
# what the UI in a browser calls; set it to the public URL when the server sits behind a proxy
export PREFECT_UI_API_URL="${PREFECT_UI_API_URL:-http://${host/0.0.0.0/127.0.0.1}:${port}/api}"
exec "${PREFECT:-prefect}" server start --host "$host" --port "$port"
