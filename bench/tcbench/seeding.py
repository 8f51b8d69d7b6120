"""Seeding: access tokens inserted straight into the SQLite or PostgreSQL store, and the two
scenarios on a seeded store, `growth` and `sweeper`."""

import os
import secrets
import sqlite3
import subprocess
import time

from .common import Abort, log
from .procs import end, spawn
from .tokens import run_with_codes


#
# Rows like the server's own (crates/tcauth-store/migrations/*/0001_init.sql): a 32-byte random
# key (the SHA-256 of a token), a 32-hex-digit family id, the bench client and user, scope
# `phone`, issued_at = expires_at - 3600 (access_token_ttl). Live tokens expire 30 to 60 min from
# now, so none expires during the run; expired ones expired up to an hour ago.

LIVE_EXPIRY = (1800, 1800)  # now + 1800 + [0, 1800)
DEAD_EXPIRY = (1, 3600)     # now - 1 - [0, 3600)


def seed_sqlite(path, live, dead, client_id, sub, now):
    """One INSERT … SELECT over a recursive CTE (keys and family ids that sort by issue time,
    as the server's do: 12 hex digits of the issue time in ms, then random ones) with the
    secondary indexes dropped and rebuilt afterwards from their own definitions in
    sqlite_master; the server is stopped meanwhile."""
    c = sqlite3.connect(str(path), isolation_level=None)
    try:
        c.execute("PRAGMA synchronous=OFF")
        c.execute("PRAGMA cache_size=-1000000")
        c.execute("PRAGMA temp_store=MEMORY")
        c.execute(f"PRAGMA threads={min(4, os.cpu_count() or 1)}")
        c.execute("BEGIN IMMEDIATE")
        idx = c.execute("SELECT name, sql FROM sqlite_master WHERE type='index' AND "
                        "tbl_name='access_tokens' AND sql IS NOT NULL").fetchall()
        for name, _ in idx:
            c.execute(f'DROP INDEX "{name}"')
        # MATERIALIZED: each random() is drawn once per row. Flattened, SQLite would draw the
        # expiry again at every reference, and keys would no longer sort by expiry as the
        # server's do (expiry = issue time + TTL), which the sweeper's locality depends on.
        c.execute(f"""
            WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?),
            t(e) AS MATERIALIZED (
                SELECT CASE WHEN i <= {int(live)}
                       THEN {now + LIVE_EXPIRY[0]} + abs(random() % {LIVE_EXPIRY[1]})
                       ELSE {now - DEAD_EXPIRY[0]} - abs(random() % {DEAD_EXPIRY[1]}) END
                FROM s),
            u(e, ms) AS MATERIALIZED (SELECT e, (e - 3600) * 1000 + abs(random() % 1000) FROM t)
            INSERT INTO access_tokens (hash, family_id, client_id, sub, scopes, issued_at,
                                       expires_at, revoked)
            SELECT CAST(printf('%012x', ms) || lower(hex(randomblob(10))) AS BLOB),
                   printf('%012x', ms) || lower(hex(randomblob(10))), ?, ?, 'phone',
                   e - 3600, e, 0
            FROM u ORDER BY ms""", (int(live + dead), client_id, int(sub)))
        for _, sql in idx:
            c.execute(sql)
        c.execute("COMMIT")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        c.close()


def psql(ctx, url, sql, timeout=900):
    """Runs SQL (statements separated by `;`, each in its own transaction unless in BEGIN …
    COMMIT) and returns what it printed."""
    p = spawn([ctx.psql, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-f", "-", url],
              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(sql, timeout=timeout)
    finally:
        end(p)
    if p.returncode != 0:
        raise Abort(f"psql failed ({sql.strip()[:60]}…): {err.strip()}")
    return out.strip()


def seed_postgres(ctx, url, live, dead, client_id, sub, now):
    """INSERT … SELECT FROM generate_series (keys as the server makes them: 6 bytes of issue
    time in ms, then 26 of a sha256; family ids of 12 hex digits of time and 20 random ones) with the secondary indexes dropped and rebuilt from their
    own definitions in pg_indexes, then VACUUM ANALYZE (what autovacuum would get to)."""
    salt = secrets.token_hex(16)
    defs = psql(ctx, url, "SELECT indexname || '|' || indexdef FROM pg_indexes WHERE "
                "tablename = 'access_tokens' AND indexname <> 'access_tokens_pkey'").splitlines()
    drops = "".join(f'DROP INDEX "{d.split("|", 1)[0]}";\n' for d in defs)
    creates = "".join(d.split("|", 1)[1] + ";\n" for d in defs)
    psql(ctx, url, f"""
        SET maintenance_work_mem = '1GB'; SET work_mem = '1GB'; SET synchronous_commit = off;
        SET max_parallel_maintenance_workers = {max(0, (os.cpu_count() or 1) - 1)};
        BEGIN;
        {drops}
        INSERT INTO access_tokens (hash, family_id, client_id, sub, scopes, issued_at,
                                   expires_at, revoked)
        SELECT decode(lpad(to_hex(ms), 12, '0'), 'hex')
                   || substring(sha256(convert_to('{salt}' || i::text, 'UTF8')) FROM 1 FOR 26),
               lpad(to_hex(ms), 12, '0') || substr(md5(random()::text || i::text), 1, 20),
               '{client_id}', {int(sub)}, 'phone', e - 3600, e, false
        FROM (SELECT i, e, (e - 3600) * 1000 + floor(random() * 1000)::bigint AS ms
              FROM (SELECT i, CASE WHEN i <= {int(live)}
                          THEN {now + LIVE_EXPIRY[0]} + floor(random() * {LIVE_EXPIRY[1]})::bigint
                          ELSE {now - DEAD_EXPIRY[0]} - floor(random() * {DEAD_EXPIRY[1]})::bigint
                     END AS e
                    FROM generate_series(1, {int(live + dead)}) AS i) AS t
              ORDER BY ms) AS s;
        {creates}
        COMMIT;
        VACUUM ANALYZE access_tokens;""", timeout=1800)


def count_tokens(ctx, b, where=""):
    if b == "sqlite":
        c = sqlite3.connect(f"file:{ctx.server.sqlite_path}?mode=ro", uri=True, timeout=10)
        try:
            return c.execute(f"SELECT count(*) FROM access_tokens {where}").fetchone()[0]
        finally:
            c.close()
    return int(psql(ctx, ctx.db_url, f"SELECT count(*) FROM access_tokens {where}"))


def seed(ctx, b, live, dead):
    """Seeds with the server stopped, then flushes what it wrote to disk; returns the seconds the
    insert took."""
    now = int(time.time())
    t0 = time.monotonic()
    log(f"seeding {live:,} live and {dead:,} expired access tokens into the {b} store…")
    if b == "sqlite":
        seed_sqlite(ctx.server.sqlite_path, live, dead, ctx.client_id, ctx.sub, now)
    else:
        seed_postgres(ctx, ctx.db_url, live, dead, ctx.client_id, ctx.sub, now)
    secs = time.monotonic() - t0
    log(f"seeded {live + dead:,} rows in {secs:.1f} s ({(live + dead) / secs:,.0f} rows/s)")
    # The seeding writes without syncing (SQLite synchronous=OFF, PostgreSQL
    # synchronous_commit=off): gigabytes of it are still to be written out, by PostgreSQL's
    # next checkpoint or the kernel's write-back. Left to happen during the scenario, that
    # writing stalled the server's commits for seconds (503s after the 2 s pool wait, a p99 of
    # 1.7 s); the scenario is meant to measure a store that holds the rows, not one loading them.
    t1 = time.monotonic()
    if b == "postgres":
        psql(ctx, ctx.db_url, "CHECKPOINT", timeout=1800)
    os.sync()
    log(f"flushed the seeded rows to disk in {time.monotonic() - t1:.1f} s")
    ctx.seeded_before = now
    return secs


# The server's sweeper rounds start at once on start-up; with these settings the next round
# comes after ten years (the store holds nothing expired during `growth` anyway).
SWEEPER_OFF = {"sweep_interval": 10 * 365 * 24 * 3600, "sweep_batch": 1}


def scenario_growth(ctx, b, results):
    """Seeds --growth-tokens live tokens (and the --sweep-tokens expired ones of `sweeper`, in
    the same pass) and runs `exchange` again on that store."""
    srv = ctx.server
    live = ctx.growth_tokens
    # The expired rows of `sweeper` are seeded there: a sweeper that goes on until nothing
    # expired is left would otherwise work during this measurement.
    dead = 0
    srv.stop()
    secs = seed(ctx, b, live, dead)
    rows = count_tokens(ctx, b)
    ctx.dead_seeded = dead
    srv.start(**SWEEPER_OFF)
    est = results.get("exchange", {}).get("rps") or ctx.minter.rate()
    r = run_with_codes(ctx, "growth", ["phone"], est, ctx.conns, ctx.secs)
    r.update({"seeded_live": live, "seeded_expired": dead, "seed_secs": round(secs, 1),
              "seed_rows_per_s": round((live + dead) / secs), "access_token_rows": rows})
    base = results.get("exchange", {}).get("rps")
    r["vs_empty"] = round(r["rps"] / base, 3) if base and r.get("rps") else None
    if r["vs_empty"] is not None:
        log(f"growth: {r['vs_empty'] * 100:.0f} % of the empty-store exchange rate")
    return r


def scenario_sweeper(ctx, b, results):
    """Restarts the server with the default sweep settings on the store holding the expired
    tokens (its first round starts at once and goes on until nothing expired is left) and
    follows their count for at most --sweep-secs: expired rows deleted per second."""
    srv = ctx.server
    if not getattr(ctx, "dead_seeded", 0):
        srv.stop()
        ctx.dead_seed_secs = seed(ctx, b, 0, ctx.sweep_tokens)
        ctx.dead_seeded = ctx.sweep_tokens
    srv.stop()
    expired = f"WHERE expires_at < {ctx.seeded_before}"
    n = count_tokens(ctx, b, expired)
    batch = 1000  # the defaults
    interval = 60
    srv.start(sweep_interval=interval, sweep_batch=batch)
    t0 = time.monotonic()
    deadline = t0 + ctx.sweep_secs
    left, samples = n, [(0.0, n)]
    cpu0 = srv.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        left = count_tokens(ctx, b, expired)
        samples.append((round(time.monotonic() - t0, 2), left))
        if left == 0:
            break
    took = time.monotonic() - t0
    cpu = srv.cpu_seconds() - cpu0
    peak_issue = results.get("exchange", {}).get("rps")
    rate = (n - left) / took if took > 0 else None
    r = {
        "expired": n, "deleted": n - left, "left": left, "secs": round(took, 2),
        "rows_per_s": round(rate, 1) if rate is not None else None,
        "cpu_pct": round(100 * cpu / took, 1) if took > 0 else None,
        "peak_rss_mib": srv.peak_rss_mib(),
        "sweep_interval": interval, "sweep_batch": batch,
        "peak_issue_per_s": peak_issue,
        "progress": samples[:: max(1, len(samples) // 20)], "problems": [],
    }
    if not srv.healthy():
        r["problems"].append(f"sweeper: the server died or stopped answering:\n{srv.log_tail()}")
    log(f"sweeper: {n - left:,} of {n:,} expired tokens deleted in {took:.1f} s "
        f"({rate or 0:,.0f} rows/s with sweep_interval={interval}, sweep_batch={batch}); "
        f"{left:,} left")
    return r

