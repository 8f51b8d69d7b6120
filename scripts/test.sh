#!/usr/bin/env bash
# The test command (README, "Test"; .ci/run's test step): every test this machine can run.
#
# Finds PostgreSQL and Redis on their usual local ports, or starts them when it can (as .ci/run
# does), turns on the browser journeys when Chromium and chromedriver are installed and the
# host-name test when /etc/hosts has its line, runs `cargo test --workspace` (or `cargo test
# ARGS…` when given arguments, e.g. `scripts/test.sh -p tcauth --test tests -- cli`), and ends
# with the tests that were SKIPPED and why. Variables already set are kept. Needs no root when
# the services are up already. Exit status: cargo's.
set -uo pipefail
cd "$(dirname "$0")/.."

notes=()
pg_url=${TCAUTH_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
redis_url=${TCAUTH_TEST_REDIS_URL:-redis://127.0.0.1:6379/}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
pg_up() {
  if command -v psql >/dev/null; then
    psql "$pg_url" -tAc 'select 1' >/dev/null 2>&1
  else
    port_open 127.0.0.1 5432
  fi
}

echo "== services"
if [ -z "${TCAUTH_TEST_DATABASE_URL:-}" ]; then
  if ! pg_up && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start \
      >/dev/null 2>&1 || true
    for _ in $(seq 50); do pg_up && break; sleep 0.2; done
  fi
  if pg_up; then
    export TCAUTH_TEST_DATABASE_URL=$pg_url
  else
    notes+=("PostgreSQL: nothing answers at $pg_url and it could not be started here (.ci/run installs and starts it; or set TCAUTH_TEST_DATABASE_URL)")
  fi
fi
if [ -z "${TCAUTH_TEST_REDIS_URL:-}" ]; then
  if ! port_open 127.0.0.1 6379 && command -v redis-server >/dev/null; then
    echo "starting Redis (data in target/test-redis)"
    mkdir -p target/test-redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir "$PWD/target/test-redis" --logfile "$PWD/target/test-redis/redis.log" >/dev/null 2>&1 || true
    for _ in $(seq 50); do port_open 127.0.0.1 6379 && break; sleep 0.1; done
  fi
  if port_open 127.0.0.1 6379; then
    export TCAUTH_TEST_REDIS_URL=$redis_url
  else
    notes+=("Redis: nothing answers at $redis_url and redis-server is not installed (.ci/run starts it; or set TCAUTH_TEST_REDIS_URL)")
  fi
fi
echo "PostgreSQL: ${TCAUTH_TEST_DATABASE_URL:-(none)}; Redis: ${TCAUTH_TEST_REDIS_URL:-(none)}"

chromium=${TCAUTH_CHROMIUM:-/usr/bin/chromium}
chromedriver=${TCAUTH_CHROMEDRIVER:-/usr/bin/chromedriver}
if [ -z "${TCAUTH_BROWSER_TESTS:-}" ]; then
  if [ -x "$chromium" ] && [ -x "$chromedriver" ]; then
    export TCAUTH_BROWSER_TESTS=1 TCAUTH_CHROMIUM=$chromium TCAUTH_CHROMEDRIVER=$chromedriver
  else
    notes+=("browser journeys: $chromium or $chromedriver missing (apt-get install chromium chromium-driver)")
  fi
fi
if [ -z "${TCAUTH_TEST_HOSTS:-}" ]; then
  if grep -qE '^169\.254\.169\.254[[:space:]]+metadata\.tcauth\.test([[:space:]]|$)' /etc/hosts; then
    export TCAUTH_TEST_HOSTS=1
  else
    notes+=("host-name test: /etc/hosts lacks '169.254.169.254 metadata.tcauth.test' (.ci/run adds it, as root)")
  fi
fi

mkdir -p target
log=target/test-output.log
if [ $# -eq 0 ]; then
  set -- --workspace
fi
echo "== cargo test $* (output also in $log)"
cargo test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

echo
echo "== skipped"
for n in ${notes[@]+"${notes[@]}"}; do echo "not available: $n"; done
skipped=$(grep -o 'SKIPPED:.*' "$log" | sort -u)
if [ -n "$skipped" ]; then
  echo "$skipped"
  echo "$(printf '%s\n' "$skipped" | wc -l) test(s) SKIPPED (each line says what to set)."
else
  echo "no test SKIPPED"
fi
exit "$status"
