#!/usr/bin/env bash
# The main job on one machine: starts the mock platform and a worker, runs a
# full sync of every configured client with progress, prints the result and
# stops what it started. Expects `make build` and `make services` first (the
# `demo` make target does both).
#
# Environment: DEMO_TIME_SCALE (default 60: the whole protocol 60 times
# faster; 1 for the real platform's pace, about 11 minutes per client),
# DEMO_CLIENTS (default 3) and any adsync or MOCK_* variable.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=${DEMO_TIME_SCALE:-60}
clients=${DEMO_CLIENTS:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

export MOCK_TIME_SCALE=$scale MOCK_ADDR=${MOCK_ADDR:-127.0.0.1:3001}
export PLATFORM_URL=${PLATFORM_URL:-http://$MOCK_ADDR}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/adsync?sslmode=disable}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:8080}
# The platform's durations shrink with the time scale; so must ours. The
# machine's own latencies do not, nor does asynq's whole-second scheduling of
# requeued tasks: the margin keeps a floor and the in-place wait its default,
# as in bench/ratelimit.
ms() { echo "$(( $1 / scale ))ms"; }
atleast() { local v=$(( $1 / scale )); (( v < $2 )) && v=$2; echo "${v}ms"; }
export PLATFORM_RATE_WINDOW=${PLATFORM_RATE_WINDOW:-$(ms 60000)}
export PLATFORM_TIMEOUT=${PLATFORM_TIMEOUT:-$(ms 10000)}
export PLATFORM_RATE_MARGIN=${PLATFORM_RATE_MARGIN:-$(atleast 200 40)}
export QUEUE_POLL_INTERVAL=${QUEUE_POLL_INTERVAL:-20ms}
export RETRY_BACKOFF_MIN=${RETRY_BACKOFF_MIN:-$(ms 60000)}
export RETRY_BACKOFF_MAX=${RETRY_BACKOFF_MAX:-$(ms 600000)}
export DEMO_PASSWORD=${DEMO_PASSWORD:-SuperSecret123!}
export LOG_FORMAT=${LOG_FORMAT:-text} LOG_LEVEL=${LOG_LEVEL:-warn}

if [ -z "${CLIENTS_FILE:-}" ] && [ -z "${PLATFORM_EMAIL:-}" ]; then
  export CLIENTS_FILE=$work/clients.json
  {
    echo "["
    for i in $(seq 1 "$clients"); do
      sep=","; [ "$i" -eq "$clients" ] && sep=""
      echo "  {\"id\": \"client-$i\", \"email\": \"admin@mixoads.com\", \"password_env\": \"DEMO_PASSWORD\"}$sep"
    done
    echo "]"
  } > "$CLIENTS_FILE"
fi

echo "demo: mock platform at $PLATFORM_URL (time scale $scale), $clients clients, worker ops at http://$HTTP_ADDR"
bin/mockapi 2> "$work/mockapi.log" &
for _ in $(seq 100); do curl -fsS "$PLATFORM_URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
bin/worker 2> "$work/worker.log" &
set +e
bin/enqueuer sync --wait
code=$?
set -e
echo "demo: stored campaigns per client:"
psql "$DATABASE_URL" -Atc "SELECT client_id || ': ' || count(*) FROM campaigns GROUP BY client_id ORDER BY client_id" 2>/dev/null || true
echo "demo: mock statistics: $(curl -fsS "$PLATFORM_URL/__mock/stats" | head -c 600)…"
exit $code
