"""A backend: every scenario of one store kind (SQLite or PostgreSQL) on fresh stores
(`run_backend`), the closed-loop rounds and how rounds become one result (`combine_rounds`)."""

import base64
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

from .common import BEARER_READS, DEFAULT_PG_URL, Abort, log
from .measure import run_wrk, show
from .scenarios import scenario_overload, setup_identity, signing_ceiling, token_pool
from .seeding import psql, scenario_growth, scenario_sweeper
from .server import Server
from .tokens import Minter, run_with_codes


def store_mib(ctx, b):
    """Size of the store: the SQLite file and its WAL, or the PostgreSQL database."""
    try:
        if b == "sqlite":
            p = ctx.server.sqlite_path
            wal = Path(str(p) + "-wal")
            return round((p.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 2**20, 1)
        return round(int(psql(ctx, ctx.db_url, "SELECT pg_database_size(current_database())"))
                     / 2**20, 1)
    except (OSError, ValueError, Abort):
        return None


# The closed-loop scenarios whose target is a ratio, and what each is divided by: the ceiling
# measured in the same round (--rounds).
RATIO_OF = {"exchange": "ceiling", "exchange_openid": "signing", "userinfo": "ceiling",
            "web_profile": "ceiling", "refresh": "ceiling", "flow": "ceiling"}


def closed_loop_round(ctx, want, est, bearer_tokens, k=0):
    """One round of the closed-loop scenarios, each ratio's ceiling measured in it: the HTTP
    ceiling first, and (with --rounds above 1) the signing ceiling just before the `openid`
    exchange. Returns {scenario: figures}."""
    out = {}

    def keep(name, r):
        out[name] = r
        show(name if ctx.rounds == 1 else f"{name} (round {k + 1})", r)

    if want("ceiling"):
        keep("ceiling", run_wrk(ctx, "healthz.lua", ctx.conns, ctx.secs, {}, "/healthz",
                                label="ceiling"))
    if want("exchange"):
        keep("exchange", run_with_codes(ctx, "exchange", ["phone"], est, ctx.conns, ctx.secs))
        est = out["exchange"].get("rps") or est
    if want("exchange_openid"):
        sign = ctx.signing
        if ctx.rounds > 1 and want("signing"):
            sign = signing_ceiling(ctx)
            if sign:
                ctx.signing_rounds.append(sign)
        if sign:
            out["signing"] = sign
        e = min(est, 1.5 * sign["rps"]) if sign else est
        keep("exchange_openid",
             run_with_codes(ctx, "exchange_openid", ["openid", "phone"], e, ctx.conns, ctx.secs))
    for name, (path, _) in BEARER_READS.items():
        if want(name) and bearer_tokens.get(name):
            keep(name, run_wrk(ctx, "userinfo.lua", ctx.conns, ctx.secs,
                               {"TOKENS_FILE": str(bearer_tokens[name]), "BEARER_PATH": path},
                               path, label=name))
    if want("refresh"):
        # Fresh tokens every round: a round's chains end in tokens the next must not reuse.
        toks = token_pool(ctx, ["phone", "offline_access"], 4 * ctx.conns, "refresh-setup")
        f = ctx.tmp / "refresh-tokens.txt"
        f.write_text("".join(f"{ctx.client_id} {t['refresh_token']}\n" for t in toks))
        r = run_wrk(ctx, "refresh.lua", ctx.conns, ctx.secs, {"TOKENS_FILE": str(f)},
                    "/v1/token", label="refresh")
        if r.get("counters", {}).get("starved"):
            r["problems"].append(f"refresh: {r['counters']['starved']} requests found no "
                                 f"refresh token queued")
        keep("refresh", r)
    if want("flow"):
        r = run_wrk(ctx, "flow.lua", ctx.conns, ctx.secs,
                    {"CID": ctx.client_id, "SUB": ctx.sub, "CHALLENGE": ctx.challenge,
                     "VERIFIER": ctx.verifier, "ADMIN_TOKEN": ctx.admin_token},
                    "/v1/token", ok=(200, 201), label="flow")
        if r.get("duration_s"):
            r["iterations_per_s"] = round(r["counters"].get("iterations", 0) / r["duration_s"], 1)
            if not r["counters"].get("iterations"):
                r["problems"].append("flow: no iteration completed")
        keep("flow", r)
        if r.get("iterations_per_s") is not None:
            log(f"flow: {r['iterations_per_s']:,.0f} iterations/s (mint + exchange + userinfo)")
    return out


def combine_rounds(rounds):
    """One result per scenario from the rounds: each ratio scenario divided by the ceiling of
    its own round, and the round with the median ratio (the lower median for an even count)
    standing for the scenario, with every round's figures under `rounds`. Problems of any round
    are kept. The ceiling stands as the median of its rounds."""
    combined = {}
    names = [n for n in ("ceiling", "signing", "exchange", "exchange_openid", "userinfo",
                         "web_profile", "refresh", "flow")
             if any(n in r for r in rounds)]
    for name in names:
        per = []
        for r in rounds:
            x = r.get(name)
            if not x:
                continue
            den = r.get(RATIO_OF.get(name, ""), {}) or {}
            ratio = x["rps"] / den["rps"] if x.get("rps") and den.get("rps") else None
            per.append((ratio if name in RATIO_OF else x.get("rps") or 0, x, den.get("rps")))
        if not per:
            continue
        ranked = sorted(per, key=lambda t: (t[0] is None, t[0] or 0))
        key, rep, den = ranked[(len(ranked) - 1) // 2]
        rep = dict(rep)
        rep["problems"] = [p for _, x, _ in per for p in x.get("problems", [])]
        if name in RATIO_OF and key is not None:
            rep["ratio"] = key
            rep["ratio_of_rps"] = den
        if len(per) > 1:
            rep["rounds"] = [{"rps": x.get("rps"), "p99_ms": x.get("p99_ms"),
                              "cpu_pct": x.get("cpu_pct"),
                              **({"ratio": round(k, 4), "ratio_of_rps": d}
                                 if name in RATIO_OF and k is not None else {})}
                             for k, x, d in per]
            ratios = [k for k, _, _ in per if k is not None]
            if name in RATIO_OF and ratios:
                rep["ratio_range"] = [round(min(ratios), 4), round(max(ratios), 4)]
        combined[name] = rep
    return combined


def run_backend(ctx, b):
    """The scenarios of one backend, on three fresh stores: the closed-loop scenarios, then
    `overload` (its 4.5 x SECS x rate codes would otherwise weigh on what follows, and its
    baseline should see a store like the one `exchange` saw), then `growth` and `sweeper`."""
    log(f"=== backend {b}")
    ctx.backend = b
    work = Path(tempfile.mkdtemp(prefix=f"tcauth-bench-{b}-"))
    ctx.tmp = work
    ctx.dead_seeded = 0
    ctx.minter = Minter(ctx)
    results, db_admin, dbname = {}, None, None
    ctx.db_url = None
    secret = None
    logs = []
    phase = [0]
    if b == "postgres":
        ctx.db_url = os.environ.get("TCAUTH_BENCH_DATABASE_URL", DEFAULT_PG_URL)
        m = re.match(r"^(postgres(?:ql)?://[^/]+)/([A-Za-z0-9_]+)(\?.*)?$", ctx.db_url)
        if not m or not m.group(2).startswith("tcauth_bench"):
            ctx.problem(f"TCAUTH_BENCH_DATABASE_URL must name a database tcauth_bench* "
                        f"(it is dropped and created): {ctx.db_url}")
            return results
        db_admin, dbname = m.group(1) + "/postgres" + (m.group(3) or ""), m.group(2)
        secret = base64.b64encode(secrets.token_bytes(32)).decode()

    def fresh_store():
        """Stops the server, starts it on a new empty store, registers the client and user."""
        if ctx.server:
            ctx.server.stop()
            logs.append(server_log_summary(ctx.server))
            shutil.rmtree(ctx.server.workdir, ignore_errors=True)
        phase[0] += 1
        d = work / f"store{phase[0]}"
        d.mkdir(mode=0o700)
        if db_admin:
            psql(ctx, db_admin, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            psql(ctx, db_admin, f'CREATE DATABASE "{dbname}"')
        ctx.server = Server(ctx, b, d, ctx.db_url, secret)
        ctx.server.start()
        setup_identity(ctx)

    def want(name):
        return name not in ctx.skip

    def record(name, r):
        r["store_mib"] = store_mib(ctx, b) if ctx.server and ctx.server.alive() else None
        results[name] = r
        for p in r.get("problems", []):
            ctx.problem(f"{b}: {p}")
        show(name, r)

    try:
        fresh_store()
        # A first batch of codes measures the mint rate: the first estimate of the exchange rate.
        probe, _ = ctx.minter.mint(["phone"], 0, cap_secs=1.0 if ctx.quick else 2.0,
                                   label="probe")
        os.unlink(probe)
        est = ctx.minter.rate()
        bearer_tokens = {}
        for name, (_, scopes) in BEARER_READS.items():
            if want(name):
                toks = token_pool(ctx, scopes, 4 * ctx.conns, f"{name}-setup")
                bearer_tokens[name] = work / f"{name}-tokens.txt"
                bearer_tokens[name].write_text("".join(t["access_token"] + "\n" for t in toks))
        rounds = []
        for k in range(ctx.rounds):
            if ctx.rounds > 1:
                log(f"--- {b}: round {k + 1} of {ctx.rounds}")
            rounds.append(closed_loop_round(ctx, want, est, bearer_tokens, k))
            est = rounds[-1].get("exchange", {}).get("rps") or est
        for name, r in combine_rounds(rounds).items():
            record(name, r)
        est = results.get("exchange", {}).get("rps") or est
        if want("rss256"):
            record("rss256", run_with_codes(ctx, "rss256", ["phone"], est, 256, ctx.secs))
        if want("overload"):
            fresh_store()
            for k, r in scenario_overload(ctx, results, est).items():
                record(k, r)
        if want("growth") or want("sweeper"):
            fresh_store()
        if want("growth"):
            record("growth", scenario_growth(ctx, b, results))
        if want("sweeper"):
            record("sweeper", scenario_sweeper(ctx, b, results))
    except Abort as e:
        ctx.problem(f"{b}: {e}")
    finally:
        if ctx.server:
            ctx.server.stop()
            logs.append(server_log_summary(ctx.server))
        ctx.server = None
        if db_admin:
            try:
                psql(ctx, db_admin, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            except Abort as e:
                log(f"could not drop the bench database: {e}")
        shutil.rmtree(work, ignore_errors=True)
    results["_mint"] = ctx.minter.rates
    results["_server_log"] = {"warnings_and_errors": sum(l.get("warnings_and_errors", 0) for l in logs),
                              "first": [x for l in logs for x in l.get("first", [])][:10]}
    if results["_server_log"]["warnings_and_errors"]:
        log(f"{b}: the server logged {results['_server_log']['warnings_and_errors']} warnings/errors, "
            f"e.g. {results['_server_log']['first'][:2]}")
    return results


def server_log_summary(srv):
    """Warnings and errors the server logged, beyond the expected start-up warnings."""
    try:
        lines = srv.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    expected = ("one-time codes go to the server log", "has mode")
    odd = [l for l in lines if (" WARN " in l or " ERROR " in l) and not any(e in l for e in expected)]
    return {"warnings_and_errors": len(odd), "first": odd[:5]}

