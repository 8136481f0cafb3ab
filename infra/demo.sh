#!/usr/bin/env bash
# The main job on one machine: start RabbitMQ and PostgreSQL (installing them when missing), the
# segmentation service and the storefront simulator, then show profiles being built live.
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

service_url=http://127.0.0.1:5080
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

dotnet services/Segmentation.Service/bin/Release/net10.0/Segmentation.Service.dll --urls "$service_url" \
  >"$run_dir/segmentation-service.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do curl -fs "$service_url/health" >/dev/null 2>&1 && break; sleep 1; done
curl -fs "$service_url/health" >/dev/null || { echo "service did not start; see $run_dir/segmentation-service.log"; exit 1; }
echo "segmentation service up on $service_url (log: $run_dir/segmentation-service.log)"

dotnet services/Storefront.Simulator/bin/Release/net10.0/Storefront.Simulator.dll \
  --customers "$customers" --rate "$rate" --duration "$duration" --seed "$RANDOM" \
  >"$run_dir/simulator.log" 2>&1 &
simulator=$!
pids+=($simulator)
echo "simulator publishing $((rate * duration)) events of $customers customers (log: $run_dir/simulator.log)"

stats() { curl -fs "$service_url/stats"; }
field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }
previous=0 idle=0
while true; do
  sleep 2
  current=$(stats | field events)
  printf '%s  customers %6s   events stored %7s   (+%s/s)\n' "$(date +%T)" "$(stats | field customers)" \
    "$current" "$(( (current - previous) / 2 ))"
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
