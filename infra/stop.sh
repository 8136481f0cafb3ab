#!/usr/bin/env bash
# Stop the PostgreSQL cluster and RabbitMQ node started by infra/start.sh.
# Idempotent: stopping servers that are already down is not an error.
# Data is kept; the next infra/start.sh finds the same users, databases and vhosts.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/lib.sh
source "$INFRA_DIR/lib.sh"

stop_rabbitmq() {
  if ! command -v rabbitmqctl >/dev/null; then return 0; fi
  if rabbit_running; then
    log "stopping RabbitMQ"
    stop_rabbitmq_node
  else
    log "RabbitMQ is not running"
  fi
}

stop_postgres() {
  if ! command -v pg_ctlcluster >/dev/null || ! pg_cluster_exists; then return 0; fi
  if pg_running; then
    log "stopping PostgreSQL $PG_VERSION/$PG_CLUSTER"
    progress as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop
  else
    log "PostgreSQL $PG_VERSION/$PG_CLUSTER is not running"
  fi
}

main() {
  case "${1:-}" in
    --quiet) QUIET=1 ;;
    -h | --help) echo "usage: infra/stop.sh [--quiet]" >&2; exit 0 ;;
    "") ;;
    *) die "unknown option: $1" ;;
  esac
  take_lock
  stop_rabbitmq
  stop_postgres
}

main "$@"
