#!/usr/bin/env python3
"""tcauth's benchmark suite: the release binary under wrk (and an open-loop generator), on a
fresh SQLite store and a fresh PostgreSQL database, with the HTTP and RSA-signing ceilings of
the same machine measured in the same run.

Per backend it starts `tcauth serve` on a fresh store (rate limits lifted), registers a client
and a user through the admin API, pre-mints codes through the admin API (wrk + bench/mint.lua)
and runs, each with `wrk -t2 -cCONNS -dSECS --latency` and a Lua script from bench/:

  ceiling          GET /healthz: the server's own HTTP ceiling (no store)
  exchange         POST /v1/token, authorization_code, scope `phone`: a distinct code per request
  exchange_openid  the same with `openid phone`: an RS256 id_token per request
  userinfo         GET /v1/userinfo, cycling over 4 x CONNS valid tokens
  web_profile      GET /v1/default (Truecaller's web profile), the same over `profile` tokens
  refresh          POST /v1/token, refresh_token: every request a fresh (rotated) refresh token
  flow             mint (admin API) + exchange (openid) + userinfo per iteration
  rss256           `exchange` at 256 connections (peak RSS at 256 connections)
  overload         on a fresh store, open-loop POST /v1/token (crates/tcauth/examples/
                   openloop.rs, 4096 connections) at 0.5 x, then 4 x the measured `exchange`
                   rate, a distinct code per request: 503 shedding, p99, memory, /healthz
  growth           on a fresh store, 10,000,000 live (and 1,000,000 expired) access tokens
                   seeded straight into it with SQL, then `exchange` again
  sweeper          restart with sweep_interval=1: expired rows deleted per second (30 s)

plus, once per run, `signing`: `openssl speed -multi NPROC rsa2048` (sign/s, the RS256
ceiling). For every scenario it reports requests/s, p50/p99 latency, the server's CPU (% of one
core) and peak RSS, and the non-2xx answers; then the target ratios of the issue as PASS/MISS.

--rounds N runs the closed-loop scenarios N times in turn (ceiling, exchange, signing, openid
exchange, userinfo, web_profile, refresh, flow; `signing` then once per round), divides each by the ceiling
measured in its own round and reports the round with the median ratio, with the range. This
machine's speed moves by 10-40 % within minutes: with one round a ratio's ceiling may have been
measured in a faster or slower minute than the scenario.

Outputs (in --out, default target/bench/): results.json, results.md (the table, also printed on
stdout) and chart.svg. Progress goes to stderr.

--quick is the smoke test CI runs: ~2 s per scenario, 2 rounds, 100k seeded tokens, a short
overload. It fails (exit 1) when a scenario answers an unexpected status, produces no
requests, the server dies, or an output file is missing, and never on timing. A full run fails
on the same errors; its PASS/MISS lines are informational. Nothing here asserts on speed.

PostgreSQL: postgres://postgres@127.0.0.1:5432/tcauth_bench, or TCAUTH_BENCH_DATABASE_URL (the
database name must start with tcauth_bench: it is dropped and created for each store, and
dropped at the end); the server gets a generated TCAUTH_SECRET.

Needs: wrk, openssl, psql (PostgreSQL backend), cargo (unless --binary and --openloop are
given). Every load targets 127.0.0.1; every loop is bounded in time; every child process is
ended and every temporary directory removed on exit, Ctrl-C included.
"""

# The code lives in the package bench/tcbench/ (its __init__ lists the modules); this file stays
# the entry point that CI and the docs call.
import sys

from tcbench.cli import main

if __name__ == "__main__":
    sys.exit(main(__doc__))
