"""The scenarios that are not a plain wrk run: the RSA signing ceiling (`openssl speed`), the
bench client and user, token pools, and `overload` (the open-loop generator)."""

import json
import os
import re
import subprocess
from pathlib import Path

from .common import log
from .measure import Measure, fmt_mib
from .procs import end, need_tool, spawn
from .tokens import exchange_all


def signing_ceiling(ctx):
    openssl = need_tool("openssl", "install Debian's `openssl` package")
    n = os.cpu_count() or 1
    secs = 1 if ctx.quick else min(ctx.secs, 10)
    cmd = [openssl, "speed", "-multi", str(n), "-seconds", str(secs), "rsa2048"]
    log(f"signing ceiling: {' '.join(cmd[1:])}")
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=20 * secs + 60)
    finally:
        end(p)
    m = None
    for m in re.finditer(r"^rsa\s+2048 bits\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)\s+([\d.]+)", out, re.M):
        pass
    if not m:
        ctx.problem(f"signing: could not read `openssl speed` output: {(out + err)[-400:]}")
        return None
    r = {"rps": float(m.group(3)), "verify_per_s": float(m.group(4)), "processes": n,
         "secs": secs, "command": " ".join(cmd[1:])}
    log(f"signing ceiling: {r['rps']:,.0f} RSA-2048 signatures/s ({n} processes)")
    return r


def setup_identity(ctx):
    srv = ctx.server
    c = srv.admin("/admin/v1/clients", {
        "name": "bench", "redirect_uris": ["https://bench.example/cb"],
        "scopes": ["openid", "profile", "phone", "offline_access"],
        "grant_types": ["authorization_code", "refresh_token"]})
    u = srv.admin("/admin/v1/users", {"phone_number": "+919876543210", "given_name": "Asha",
                                      "family_name": "Rao"})
    ctx.client_id, ctx.sub = c["client_id"], str(u["sub"])


def token_pool(ctx, scopes, n, label):
    codes, _ = ctx.minter.mint(scopes, n, label=label)
    tokens = exchange_all(ctx, codes)
    os.unlink(codes)
    return tokens


def scenario_overload(ctx, b, est):
    """Open-loop at 0.5x (baseline) and 4x the sustainable exchange rate."""
    srv = ctx.server
    sustainable = b.get("exchange", {}).get("rps") or est
    secs = ctx.secs
    rates = {"overload_base": 0.5 * sustainable, "overload": 4 * sustainable}
    need = {k: int(r * secs * 1.02) + 200 for k, r in rates.items()}
    codes, total = ctx.minter.mint(["phone"], sum(need.values()), label="overload")
    lines = Path(codes).read_text().splitlines(keepends=True)
    files, at = {}, 0
    for k in ("overload_base", "overload"):
        f = ctx.tmp / f"{k}.txt"
        f.write_text("".join(lines[at:at + need[k]]))
        at += need[k]
        files[k] = f
    os.unlink(codes)
    results = {}
    for k in ("overload_base", "overload"):
        rate = rates[k]
        log(f"{k}: open loop at {rate:,.0f} req/s for {secs} s "
            f"({rate / sustainable:.1f} x the exchange rate)")
        cmd = [ctx.openloop, "--url", srv.base, "--codes", str(files[k]), "--rate", f"{rate:.1f}",
               "--secs", str(secs), "--connections", str(ctx.openloop_conns)]
        m = Measure(srv)
        p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=secs + 60)
        except subprocess.TimeoutExpired:
            out, err = "", "openloop did not finish in time"
        finally:
            end(p)
        os.unlink(files[k])
        try:
            o = json.loads(out)
        except ValueError:
            ctx.problem(f"{k}: openloop printed no result: {(err or out)[-400:]}")
            continue
        meas = m.finish(o["wall_s"])
        status = o["status"]
        dur = o["sending_s"]
        lat = o["latency_ms"]
        r = {
            "target_rate": round(rate, 1), "secs": secs, "sent": o["sent"],
            "not_sent": o["not_sent"], "codes_exhausted": o["codes_exhausted"],
            "sent_per_s": round(o["sent"] / dur, 1),
            "rps": round(status.get("200", 0) / dur, 1),  # accepted per second
            "shed_per_s": round(status.get("503", 0) / dur, 1),
            "statuses": status,
            "p50_ms": lat.get("200", {}).get("p50"), "p99_ms": lat.get("200", {}).get("p99"),
            "max_ms": lat.get("200", {}).get("max"),
            "p50_503_ms": lat.get("503", {}).get("p50"), "p99_503_ms": lat.get("503", {}).get("p99"),
            "max_503_ms": lat.get("503", {}).get("max"),
            "p99_from_due_ms": o["latency_from_due_ms"].get("200", {}).get("p99"),
            "p99_503_from_due_ms": o["latency_from_due_ms"].get("503", {}).get("p99"),
            "send_lag_ms": o["send_lag_ms"], "max_outstanding_seen": o["max_outstanding_seen"],
            "connections": o["connections"], "connect_s": o["connect_s"],
            "reconnects": o["reconnects"], "unfinished": o["unfinished"],
            "health": o["health"], "samples": o["samples"],
            "max_in_flight": ctx.server_config.get("max_in_flight", "1024 (default)"),
        }
        r.update(meas)
        r["rss_after_mib"] = srv.rss_mib()
        r["non2xx"] = sum(v for s, v in status.items() if s != "200")
        problems = []
        if o["sent"] == 0:
            problems.append(f"{k}: produced no requests")
        if o.get("connect_error"):
            problems.append(f"{k}: openloop opened {o['connections']} of {ctx.openloop_conns} "
                            f"connections: {o['connect_error']}")
        unexpected = {s: v for s, v in status.items() if s not in ("200", "503")}
        if unexpected:
            problems.append(f"{k}: unexpected outcomes {unexpected}: {o['samples']}")
        bodies_503 = o["samples"].get("503", [])
        wrong = [s for s in bodies_503 if '"error":"temporarily_unavailable"' not in s]
        if wrong:
            problems.append(f"{k}: a 503 without temporarily_unavailable: {wrong[0]}")
        if o["health"]["failed"]:
            problems.append(f"{k}: /healthz failed {o['health']['failed']} of "
                            f"{o['health']['checks']} times: {o['health']['first_failure']}")
        if not srv.healthy():
            problems.append(f"{k}: the server died or stopped answering:\n{srv.log_tail()}")
        r["healthz_after"] = srv.healthy()
        r["problems"] = problems
        log(f"{k}: sent {r['sent_per_s']:,.0f}/s, accepted {r['rps']:,.0f}/s "
            f"(p99 {r['p99_ms']} ms), shed {r['shed_per_s']:,.0f}/s (p99 {r['p99_503_ms']} ms), "
            f"not sent {r['not_sent']:,}, peak RSS {fmt_mib(r['peak_rss_mib'])}, "
            f"/healthz {o['health']['ok']}/{o['health']['checks']} ok")
        results[k] = r
    if "overload" in results and "overload_base" in results:
        base_p99, p99 = results["overload_base"]["p99_ms"], results["overload"]["p99_ms"]
        results["overload"]["p99_vs_unloaded"] = (round(p99 / base_p99, 2)
                                                  if base_p99 and p99 else None)
    return results

