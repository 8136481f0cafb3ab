# shellcheck shell=bash disable=SC2034  # constants are used by the scripts that source this file
# Shared helpers for infra/start.sh and infra/stop.sh. Sourced, not executed.
# Status messages go to stderr so that stdout stays machine-readable.

readonly PG_VERSION="${PG_VERSION:-15}"
readonly PG_CLUSTER="${PG_CLUSTER:-main}"
readonly PG_PORT=5432
readonly SEG_USER=seg
readonly SEG_PASSWORD=seg
readonly PG_DATABASE=segmentation
readonly RABBIT_VHOST=segmentation
readonly RABBIT_PORT=5672
readonly START_TIMEOUT="${START_TIMEOUT:-120}"

QUIET="${QUIET:-0}"

log() { [[ "$QUIET" == 1 ]] || printf '[infra] %s\n' "$*" >&2; }
# Run a tool whose own output is progress: to stderr, or nowhere with --quiet.
progress() { if [[ "$QUIET" == 1 ]]; then "$@" >/dev/null; else "$@" >&2; fi; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly when we are root, else through sudo).
as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Run a command as another system user (postgres).
as_user() {
  local user=$1; shift
  if [[ $EUID -eq 0 ]]; then runuser -u "$user" -- "$@"; else sudo -u "$user" -- "$@"; fi
}

# Serialise start.sh/stop.sh runs (several developers or test runs on one machine).
# The lock is file descriptor 9; servers are launched through `detached`, which closes it.
take_lock() {
  exec 9>/tmp/segmentation-infra.lock
  flock -w "$START_TIMEOUT" 9 || die "another infra/start.sh or stop.sh holds the lock"
}

# Run a command that leaves a server behind with only stdin, stdout and stderr open.
# Servers otherwise inherit every descriptor of the caller (our lock, a CI runner's pipes)
# and keep them open long after this script has exited.
detached() {
  (
    local fd
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    "$@"
  )
}

have_systemd() { [[ -d /run/systemd/system ]]; }

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second until it succeeds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$what did not come up within ${timeout}s"
    fi
    sleep 1
  done
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# PostgreSQL ------------------------------------------------------------------

pg_cluster_exists() { [[ -d "/etc/postgresql/$PG_VERSION/$PG_CLUSTER" ]]; }

# pg_ctlcluster status exits 0 when the cluster is running, 3 when it is down.
pg_running() { as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" status >/dev/null 2>&1; }

# RabbitMQ --------------------------------------------------------------------

rabbit_running() { as_root rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

# Stop the node and wait until its OS process has exited.
stop_rabbitmq_node() {
  if have_systemd; then
    as_root systemctl stop rabbitmq-server
  else
    progress as_root rabbitmqctl -q shutdown
  fi
}
