"""Codes and tokens: minting codes through the admin API with wrk (`Minter`, bench/mint.lua),
exchanging them for tokens, and `exchange` runs with enough fresh codes (`run_with_codes`)."""

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

from .common import BENCH, Abort, log
from .http_util import Pool
from .measure import parse_bench_json, run_wrk
from .procs import end, spawn


class Minter:
    """Mints codes through the admin API with wrk (bench/mint.lua) until `n` exist."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.batches = 0
        self.rates = []

    def mint(self, scopes, n, cap_secs=None, label="codes"):
        """Returns (path of a codes file with at least min(n, what the cap allowed) lines,
        number of lines)."""
        ctx, srv = self.ctx, self.ctx.server
        self.batches += 1
        stem = ctx.tmp / f"{label}-{self.batches}"
        threads = 2
        target = math.ceil(n / threads) if n else 10**12
        cap = cap_secs or ctx.mint_cap
        env = dict(os.environ, BENCH_DIR=str(BENCH), THREADS=str(threads), CID=ctx.client_id,
                   SUB=ctx.sub, CHALLENGE=ctx.challenge, VERIFIER=ctx.verifier,
                   ADMIN_TOKEN=ctx.admin_token, SCOPES=",".join(f'"{s}"' for s in scopes),
                   CODES_FILE=str(stem), MINT_TARGET=str(target))
        cmd = [ctx.wrk, f"-t{threads}", f"-c{ctx.mint_conns}", f"-d{int(math.ceil(cap)) + 1}s",
               "--timeout", "10s", "-s", str(BENCH / "mint.lua"), srv.base + "/admin/v1/authorizations"]
        files = [Path(f"{stem}.{t}") for t in range(threads)]
        counts = [0] * threads
        offsets = [0] * threads
        t0 = time.monotonic()
        p = spawn(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while p.poll() is None and time.monotonic() - t0 < cap:
                time.sleep(0.1)
                for i, f in enumerate(files):
                    try:
                        with open(f, "rb") as fh:
                            fh.seek(offsets[i])
                            chunk = fh.read()
                    except FileNotFoundError:
                        continue
                    offsets[i] += len(chunk)
                    counts[i] += chunk.count(b"\n")
                if n and all(c >= target for c in counts):
                    break
            elapsed = time.monotonic() - t0
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            try:
                out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                end(p)
                out = ""
        finally:
            end(p)
        data = parse_bench_json(out) or {}
        codes = ctx.tmp / f"{label}-{self.batches}.txt"
        total = 0
        with open(codes, "w") as w:
            for f in files:
                if f.exists():
                    for line in f.read_text().splitlines():
                        if line.count(" ") == 2:
                            w.write(line + "\n")
                            total += 1
                    f.unlink()
        statuses = data.get("statuses", {})
        bad = {k: v for k, v in statuses.items() if int(k) != 201}
        if bad:
            ctx.problem(f"mint ({label}): unexpected statuses {bad}: {data.get('samples')}")
        rate = total / elapsed if elapsed > 0 else 0
        self.rates.append({"label": label, "codes": total, "secs": round(elapsed, 2),
                           "rate": round(rate, 1), "scopes": scopes,
                           "p99_ms": round(data.get("latency_us", {}).get("p99", 0) / 1000, 3)})
        log(f"minted {total:,} codes ({' '.join(scopes)}) in {elapsed:.1f} s ({rate:,.0f}/s)")
        if not srv.healthy():
            raise Abort("the server died while minting:\n" + srv.log_tail())
        if total == 0:
            raise Abort(f"minting {label} produced no codes: {data}")
        return codes, total

    def rate(self):
        return max((r["rate"] for r in self.rates), default=0)


def exchange_all(ctx, codes_file, workers=16):
    """Exchanges every code of a file (in parallel); returns the token responses (all 200)."""
    lines = [l.split() for l in Path(codes_file).read_text().splitlines() if l.strip()]
    pool = Pool(ctx.server.port, workers)
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}

    def one(parts):
        cid, code, verifier = parts
        return pool.call("POST", "/v1/token",
                         f"grant_type=authorization_code&client_id={cid}&code={code}"
                         f"&code_verifier={verifier}", hdr)

    results = pool.map(one, lines)
    bad = [(s, b) for s, b in results if s != 200]
    if bad:
        raise Abort(f"set-up exchange answered {bad[0][0]}: {bad[0][1]} ({len(bad)} of {len(results)})")
    return [json.loads(b) for _, b in results]


def run_with_codes(ctx, name, scopes, est_rate, conns, secs):
    """`exchange.lua` with enough freshly minted codes; runs again (twice at most) with more
    codes when the first estimate of the rate was too low."""
    res = None
    for attempt in range(3):
        need = int(est_rate * secs * 1.3) + 4 * conns + 100
        codes, _ = ctx.minter.mint(scopes, need, label=name)
        res = run_wrk(ctx, "exchange.lua", conns, secs, {"CODES_FILE": str(codes)},
                      path="/v1/token", label=name)
        os.unlink(codes)
        exhausted = res.get("counters", {}).get("exhausted", 0)
        if not exhausted:
            return res
        used = res["statuses"].get("200", 0) - exhausted
        est_rate = max(2 * est_rate, 2 * used / secs)
        log(f"{name}: the codes ran out after {used:,} exchanges; again with more")
    res["problems"].append(f"{name}: the codes ran out three times; the figure is too low")
    return res

