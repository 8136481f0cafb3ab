#!/usr/bin/env bash
# Start a local PostgreSQL and RabbitMQ for development and CI, without Docker.
#
#   eval "$(infra/start.sh)"         # install if missing, start, provision, export settings
#   infra/start.sh --print-env       # only print the settings, start nothing
#
# Idempotent: running it again while the servers are up changes nothing.
# stdout carries only `export NAME=value` lines; progress goes to stderr.
# Needs root (or sudo) for apt-get and to run the servers as their system users.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=infra/lib.sh
source "$INFRA_DIR/lib.sh"

usage() {
  cat >&2 <<USAGE
usage: infra/start.sh [--print-env] [--no-install] [--with-browser] [--quiet]
  --print-env   print the export lines and exit (start nothing)
  --with-browser  also install Debian's chromium when missing (the console's browser tests drive it)
  --no-install  fail instead of running apt-get when a server is missing
  --quiet       no progress messages on stderr
Environment: PG_VERSION (default 15), PG_CLUSTER (main), START_TIMEOUT (120 s).
USAGE
}

print_env() {
  echo "export RABBITMQ_URL=amqp://$SEG_USER:$SEG_PASSWORD@127.0.0.1:$RABBIT_PORT/$RABBIT_VHOST"
  echo "export POSTGRES_CONNECTION=\"Host=127.0.0.1;Port=$PG_PORT;Username=$SEG_USER;Password=$SEG_PASSWORD;Database=$PG_DATABASE\""
}

# Packages ----------------------------------------------------------------------

missing_packages() {
  local missing=()
  [[ -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]] && command -v pg_ctlcluster >/dev/null \
    || missing+=("postgresql-$PG_VERSION")
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  [[ "$WITH_BROWSER" == 0 ]] || [[ -x /usr/bin/chromium ]] || missing+=(chromium)
  echo "${missing[@]}"
}

ensure_packages() {
  local missing
  missing="$(missing_packages)"
  [[ -z "$missing" ]] && return 0
  [[ "$ALLOW_INSTALL" == 1 ]] || die "missing packages: $missing (run without --no-install)"
  log "installing: $missing"
  # DPkg::Lock::Timeout waits for another apt run instead of failing on the lock.
  progress as_root apt-get -o DPkg::Lock::Timeout=300 update -qq
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  progress as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing
}

# install_config SOURCE TARGET: copy when different; returns 0 when the file changed.
install_config() {
  local source=$1 target=$2
  if as_root cmp -s "$source" "$target" 2>/dev/null; then return 1; fi
  log "installing $target"
  as_root install -D -m 0644 "$source" "$target"
}

# PostgreSQL --------------------------------------------------------------------

start_postgres() {
  if ! pg_cluster_exists; then
    log "creating PostgreSQL $PG_VERSION cluster '$PG_CLUSTER'"
    progress detached as_root pg_createcluster "$PG_VERSION" "$PG_CLUSTER" --port "$PG_PORT"
  fi

  local changed=0
  install_config "$INFRA_DIR/postgres/segmentation.conf" \
    "/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/50-segmentation.conf" && changed=1

  if pg_running; then
    if [[ $changed == 1 ]]; then
      # listen_addresses and max_connections only take effect on restart.
      log "PostgreSQL configuration changed: restarting"
      progress detached as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    else
      log "PostgreSQL $PG_VERSION/$PG_CLUSTER already running"
    fi
  else
    log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER"
    progress detached as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
  fi
  wait_for "$START_TIMEOUT" "PostgreSQL on 127.0.0.1:$PG_PORT" \
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
}

provision_postgres() {
  log "ensuring role '$SEG_USER' and database '$PG_DATABASE'"
  progress as_user postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SEG_USER') THEN
    CREATE ROLE $SEG_USER LOGIN CREATEDB PASSWORD '$SEG_PASSWORD';
  ELSE
    ALTER ROLE $SEG_USER LOGIN CREATEDB PASSWORD '$SEG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DATABASE OWNER $SEG_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DATABASE')\gexec
SQL
  # Prove the printed settings work: password login over TCP.
  PGPASSWORD=$SEG_PASSWORD psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$SEG_USER" -d "$PG_DATABASE" \
    -c 'SELECT 1' >/dev/null || die "cannot log in to PostgreSQL as $SEG_USER over TCP"
}

# RabbitMQ ----------------------------------------------------------------------

enable_management_plugin() {
  if as_root grep -qs rabbitmq_management /etc/rabbitmq/enabled_plugins; then return 0; fi
  local mode=(--offline)
  rabbit_running && mode=()
  log "enabling rabbitmq_management (UI on http://127.0.0.1:15672)"
  progress as_root rabbitmq-plugins -q enable "${mode[@]}" rabbitmq_management \
    || log "could not enable rabbitmq_management; continuing without the UI"
}

# The Erlang port mapper (epmd) is started by whichever RabbitMQ command runs first,
# server or CLI; rabbitmq-env.conf is read by all of them, so it keeps epmd on loopback.
# Appended rather than replaced: the file may hold local settings.
configure_epmd() {
  if as_root grep -qs '^ERL_EPMD_ADDRESS=' /etc/rabbitmq/rabbitmq-env.conf; then return 1; fi
  log "binding epmd to loopback in /etc/rabbitmq/rabbitmq-env.conf"
  printf '\n# Added by SegmentationEvents infra/start.sh: epmd on loopback only.\nERL_EPMD_ADDRESS=127.0.0.1\n' \
    | as_root tee -a /etc/rabbitmq/rabbitmq-env.conf >/dev/null
}

start_rabbitmq_node() {
  if have_systemd; then
    as_root systemctl start rabbitmq-server
  else
    # Detached node; its output goes to the log, never to our stdout/stderr, so a
    # caller capturing this script's output does not wait on the server's pipes.
    as_root mkdir -p /var/log/rabbitmq
    detached as_root rabbitmq-server -detached </dev/null >>/var/log/rabbitmq/detached.log 2>&1
  fi
}

start_rabbitmq() {
  local changed=0
  install_config "$INFRA_DIR/rabbitmq/rabbitmq.conf" /etc/rabbitmq/conf.d/50-segmentation.conf \
    && changed=1
  configure_epmd && changed=1
  enable_management_plugin

  if rabbit_running && [[ $changed == 1 ]]; then
    log "RabbitMQ configuration changed: restarting"
    stop_rabbitmq_node
  fi

  if rabbit_running; then
    log "RabbitMQ already running"
  else
    log "starting RabbitMQ"
    start_rabbitmq_node
  fi
  # The node answers ping while the broker is still booting; await_startup fails fast
  # while the node is not reachable yet, so loop on it.
  wait_for "$START_TIMEOUT" "RabbitMQ" as_root rabbitmqctl -q await_startup --timeout 5
  wait_for "$START_TIMEOUT" "RabbitMQ on 127.0.0.1:$RABBIT_PORT" port_open "$RABBIT_PORT"
}

rabbit_user_exists() {
  as_root rabbitmqctl -q list_users --no-table-headers | awk '{print $1}' | grep -qx "$SEG_USER"
}

rabbit_vhost_exists() {
  as_root rabbitmqctl -q list_vhosts --no-table-headers | grep -qx "$RABBIT_VHOST"
}

provision_rabbitmq() {
  log "ensuring RabbitMQ user '$SEG_USER' and vhost '$RABBIT_VHOST'"
  if rabbit_user_exists; then
    progress as_root rabbitmqctl -q change_password "$SEG_USER" "$SEG_PASSWORD"
  else
    progress as_root rabbitmqctl -q add_user "$SEG_USER" "$SEG_PASSWORD"
  fi
  # administrator: tests create and delete their own vhosts.
  progress as_root rabbitmqctl -q set_user_tags "$SEG_USER" administrator
  rabbit_vhost_exists || progress as_root rabbitmqctl -q add_vhost "$RABBIT_VHOST"
  progress as_root rabbitmqctl -q set_permissions -p "$RABBIT_VHOST" "$SEG_USER" '.*' '.*' '.*'
}

main() {
  ALLOW_INSTALL=1
  WITH_BROWSER=0
  local env_only=0
  while (($#)); do
    case "$1" in
      --print-env) env_only=1 ;;
      --no-install) ALLOW_INSTALL=0 ;;
      --with-browser) WITH_BROWSER=1 ;;
      --quiet) QUIET=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage; die "unknown option: $1" ;;
    esac
    shift
  done
  if [[ $env_only == 1 ]]; then print_env; return 0; fi

  take_lock

  ensure_packages
  start_postgres
  provision_postgres
  start_rabbitmq
  provision_rabbitmq
  log "ready: PostgreSQL on 127.0.0.1:$PG_PORT, RabbitMQ on 127.0.0.1:$RABBIT_PORT"
  print_env
}

main "$@"
