#!/usr/bin/env bash
# A quick benchmark of the release binary with wrk: the HTTP ceiling (/healthz), userinfo, and
# the code exchange without openid (each request redeems a distinct pre-minted code).
# Usage: bench/quick.sh [seconds] [connections]    (needs wrk, curl, jq)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
PORT=${PORT:-18181}
BASE=http://127.0.0.1:$PORT
ADMIN_TOKEN=bench-admin-token-0123456789

cargo build --release -q
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null; rm -rf "$DATA"' EXIT
cat > "$DATA/tcauth.toml" <<TOML
code_ttl = 600
[rate_limit]
per_second = 1000000
burst = 1000000
TOML
TCAUTH_LOG=warn TCAUTH_ADMIN_TOKEN=$ADMIN_TOKEN ./target/release/tcauth serve \
  --config "$DATA/tcauth.toml" --data-dir "$DATA" --listen 127.0.0.1:$PORT &
PID=$!
for _ in $(seq 100); do curl -sf $BASE/healthz >/dev/null && break; sleep 0.1; done

A="Authorization: Bearer $ADMIN_TOKEN"
J='Content-Type: application/json'
CID=$(curl -sf $BASE/admin/v1/clients -H "$A" -H "$J" -d '{"name":"bench","redirect_uris":["https://b.example/cb"],"scopes":["openid","phone"],"grant_types":["authorization_code"]}' | jq -r .client_id)
SUB=$(curl -sf $BASE/admin/v1/users -H "$A" -H "$J" -d '{"phone_number":"+919876543210"}' | jq -r .sub)
VERIFIER=$(printf 'v%.0s' $(seq 50))
CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
mint() { curl -sf $BASE/admin/v1/authorizations -H "$A" -H "$J" -d "{\"client_id\":\"$CID\",\"sub\":\"$SUB\",\"scopes\":[$1],\"code_challenge\":\"$CHALLENGE\",\"code_challenge_method\":\"S256\"}" | jq -r .code; }

TOKEN=$(curl -sf $BASE/v1/token -d "grant_type=authorization_code&client_id=$CID&code=$(mint '"openid","phone"')&code_verifier=$VERIFIER" | jq -r .access_token)
[ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { echo "could not obtain an access token" >&2; exit 1; }

echo "minting codes for $((2 * SECS))s (scope phone, no openid)…" >&2
export CODES_FILE="$DATA/codes.txt" CID SUB CHALLENGE VERIFIER ADMIN_TOKEN SCOPES='"phone"'
wrk -t1 -c16 -d"$((2 * SECS))s" -s bench/mint.lua $BASE/admin/v1/authorizations >/dev/null
echo "$(wc -l < "$CODES_FILE") codes minted" >&2

run() { echo "== $1"; shift; wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" | grep -E "Requests/sec|Non-2xx|50%|99%|Socket errors"; }
run "exchange without openid (distinct codes)" -s bench/exchange.lua $BASE
run "GET /healthz (HTTP ceiling)" $BASE/healthz
export ACCESS_TOKEN=$TOKEN
run "GET /v1/userinfo" -s bench/userinfo.lua $BASE/v1/userinfo
echo "peak RSS: $(grep VmHWM /proc/$PID/status | awk '{print $2, $3}')"
