#!/usr/bin/env bash
# The main job on one machine: start RabbitMQ and PostgreSQL (installing them when missing), the
# segmentation service (with infra/examples/ruleset.yaml), the notification service and the
# storefront simulator, then show profiles being built and segment events flowing, live.
#
#   bash infra/demo.sh [--customers N] [--rate EVENTS_PER_SECOND] [--duration SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

customers=200 rate=200 duration=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --customers) customers=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "usage: infra/demo.sh [--customers N] [--rate N] [--duration SECONDS]" >&2; exit 2 ;;
  esac
done

eval "$(infra/start.sh)"
export RABBITMQ_URL POSTGRES_CONNECTION

run_dir=.run
mkdir -p "$run_dir"
echo "building (Release)..."
dotnet build SegmentationEvents.sln -c Release -v quiet -nologo >"$run_dir/build.log" 2>&1 \
  || { cat "$run_dir/build.log"; exit 1; }

# Writes to the admin APIs need a key; reads from this machine are open (Admin:OpenLoopbackReads).
admin_key=${SEGMENTATION_API_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
admin_settings=(--Admin:Keys:demo="$admin_key" --Admin:OpenLoopbackReads=true)

service_url=http://127.0.0.1:5080
notification_url=http://127.0.0.1:5081
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_service() { # name url dll [args...]
  local name=$1 url=$2 dll=$3; shift 3
  dotnet "$dll" --urls "$url" "$@" >"$run_dir/$name.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 60); do curl -fs "$url/health/ready" >/dev/null 2>&1 && break; sleep 1; done
  curl -fs "$url/health/ready" >/dev/null || { echo "$name did not start; see $run_dir/$name.log"; exit 1; }
  echo "$name up on $url (log: $run_dir/$name.log)"
}
# The example ruleset is activated at the first start; a version activated later through the API wins.
start_service segmentation-service "$service_url" services/Segmentation.Service/bin/Release/net10.0/Segmentation.Service.dll \
  --Segmentation:RulesetPath="$PWD/infra/examples/ruleset.yaml" "${admin_settings[@]}"
start_service notification-service "$notification_url" services/Notification.Service/bin/Release/net10.0/Notification.Service.dll \
  --Notification:Cooldowns:contact=1.00:00:00 "${admin_settings[@]}"
echo "admin key (operator 'demo') for changes: export SEGMENTATION_API_KEY=$admin_key"
echo "console: $service_url/ (open it in a browser; paste the admin key into its header to check, simulate and activate rulesets)"

dotnet services/Storefront.Simulator/bin/Release/net10.0/Storefront.Simulator.dll \
  --customers "$customers" --rate "$rate" --duration "$duration" --seed "$RANDOM" \
  >"$run_dir/simulator.log" 2>&1 &
simulator=$!
pids+=($simulator)
echo "simulator publishing $((rate * duration)) events of $customers customers (log: $run_dir/simulator.log)"

field() { sed -E "s/^\{\"customers\":([0-9]+),\"events\":([0-9]+).*/\\$1/"; }
segments() { # one "name +entered -exited" per segment
  sed -E 's/.*"segments":\[(.*)\]\}/\1/; s/\},?/\n/g' | sed -nE 's/.*"segment":"([^"]+)","entered":([0-9]+),"exited":([0-9]+).*/\1 +\2 -\3/p' | paste -sd' '
}
sends() { curl -fs "$notification_url/sends/summary" | grep -oE '"sent":[0-9]+' | cut -d: -f2 | paste -sd+ | bc; }
previous=0 idle=0
while true; do
  sleep 2
  stats=$(curl -fs "$service_url/stats")
  current=$(field 2 <<<"$stats")
  printf '%s  customers %5s  events %6s (+%s/s)  sends %5s  segments: %s\n' "$(date +%T)" "$(field 1 <<<"$stats")" \
    "$current" "$(( (current - previous) / 2 ))" "$(sends)" "$(segments <<<"$stats")"
  if ! kill -0 "$simulator" 2>/dev/null; then
    if [[ "$current" == "$previous" ]]; then idle=$((idle + 1)); else idle=0; fi
    [[ $idle -ge 2 ]] && break
  fi
  previous=$current
done

sample=$(curl -fs "$service_url/customers?take=1" | sed -E 's/^\["([^"]+)".*/\1/')
echo
echo "sample profile: GET $service_url/customers/$sample"
curl -fs "$service_url/customers/$sample" | head -c 3000
echo
echo
echo "sends by segment and channel: GET $notification_url/sends/summary"
curl -fs "$notification_url/sends/summary"
echo

echo
echo "console: $service_url/ (overview), $service_url/rulesets.html, $service_url/customer.html?id=$sample"
# Interactive runs keep the services up for the console; scripted runs (no terminal) end here.
if [[ -t 0 ]]; then
  read -r -p "the services keep running for the console; press Enter to stop them "
fi
