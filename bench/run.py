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
exchange, userinfo, refresh, flow; `signing` then once per round), divides each by the ceiling
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

import argparse
import atexit
import base64
import hashlib
import http.client
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SCENARIOS = ["ceiling", "signing", "exchange", "exchange_openid", "userinfo", "refresh", "flow",
             "rss256", "overload", "growth", "sweeper"]
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/tcauth_bench"
RSS_LIMIT_MIB = 150
HUGE = 1_000_000_000  # rate limits "lifted": far above anything one machine can send
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Abort(Exception):
    """A condition that ends the run: a missing tool, a server that does not start."""


# --- child processes -----------------------------------------------------------------------

CHILDREN = []


def spawn(cmd, **kw):
    """Starts a child in its own session, so the cleanup below can end it and all it started."""
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    CHILDREN.append(p)
    return p


def end(p, grace=10.0):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
    if p in CHILDREN:
        CHILDREN.remove(p)


def end_all():
    for p in list(CHILDREN):
        try:
            end(p, grace=3.0)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(end_all)


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_tool(name, hint):
    path = shutil.which(name)
    if not path:
        raise Abort(f"`{name}` not found: {hint}")
    return path


# --- HTTP helpers --------------------------------------------------------------------------

def request(port, method, path, body=None, headers=None, timeout=10.0, conn=None):
    """One request; returns (status, body text). Reuses `conn` when given."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        if own:
            c.close()


class Pool:
    """A few keep-alive connections for the small set-up jobs (exchanging codes for tokens)."""

    def __init__(self, port, workers=16):
        self.port, self.workers, self.local = port, workers, threading.local()

    def call(self, method, path, body, headers):
        for attempt in (0, 1):
            c = getattr(self.local, "c", None)
            if c is None:
                c = self.local.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                return request(self.port, method, path, body, headers, conn=c)
            except (http.client.HTTPException, OSError):
                c.close()
                self.local.c = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def map(self, fn, items):
        with ThreadPoolExecutor(self.workers) as ex:
            return list(ex.map(fn, items))


# --- the server ----------------------------------------------------------------------------

class Server:
    def __init__(self, ctx, backend, workdir, db_url=None, secret=None):
        self.ctx, self.backend, self.workdir = ctx, backend, Path(workdir)
        self.db_url, self.secret = db_url, secret
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.port = None
        self.proc = None
        self.log_path = self.workdir / "server.log"
        self.starts = 0

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def sqlite_path(self):
        return self.data_dir / "tcauth.db"

    def start(self, **config):
        cfg = {"code_ttl": 600, **self.ctx.server_config, **config}
        lines = [f"{k} = {v}" for k, v in cfg.items()]
        lines += ["[rate_limit]", f"per_second = {HUGE}", f"burst = {HUGE}",
                  "[ip_rate_limit]", f"per_second = {HUGE}", f"burst = {HUGE}",
                  # Every load generator connects from 127.0.0.1: no per-IP connection cap.
                  "[connections]", "max_connections = 100000", "max_connections_per_ip = 100000"]
        conf = self.workdir / "tcauth.toml"
        conf.write_text("\n".join(lines) + "\n")
        self.port = free_port()
        cmd = [self.ctx.binary, "serve", "--config", str(conf), "--data-dir", str(self.data_dir),
               "--listen", f"127.0.0.1:{self.port}"]
        if self.db_url:
            cmd += ["--database-url", self.db_url]
        env = dict(os.environ, TCAUTH_ADMIN_TOKEN=self.ctx.admin_token, TCAUTH_LOG="warn")
        for k in ("TCAUTH_DATABASE_URL", "TCAUTH_REDIS_URL", "TCAUTH_CONFIG", "TCAUTH_LISTEN",
                  "TCAUTH_DATA_DIR", "TCAUTH_ISSUER", "TCAUTH_OTP_WEBHOOK_URL"):
            env.pop(k, None)
        if self.secret:
            env["TCAUTH_SECRET"] = self.secret
        logf = open(self.log_path, "a")
        logf.write(f"--- start {self.starts} {' '.join(cmd)}\n")
        logf.flush()
        self.proc = spawn(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Abort(f"the server exited with status {self.proc.returncode} at start:\n"
                            + self.log_tail())
            try:
                if request(self.port, "GET", "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Abort("the server did not answer /healthz within 60 s:\n" + self.log_tail())

    def stop(self):
        if self.proc is not None:
            end(self.proc, grace=20.0)
            self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def healthy(self):
        try:
            return self.alive() and request(self.port, "GET", "/healthz", timeout=5)[0] == 200
        except OSError:
            return False

    def log_tail(self, n=15):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def cpu_seconds(self):
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
        except (OSError, IndexError, ValueError):
            return float("nan")

    def reset_peak_rss(self):
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def _status_kib(self, key):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def peak_rss_mib(self):
        kib = self._status_kib("VmHWM")
        return None if kib is None else kib / 1024

    def rss_mib(self):
        kib = self._status_kib("VmRSS")
        return None if kib is None else kib / 1024

    # admin API
    def admin(self, path, payload):
        status, body = request(self.port, "POST", path, json.dumps(payload),
                               {"Content-Type": "application/json",
                                "Authorization": f"Bearer {self.ctx.admin_token}"})
        if status != 201:
            raise Abort(f"POST {path} answered {status}: {body}")
        return json.loads(body)


# --- measuring ----------------------------------------------------------------------------

class Measure:
    """Server CPU and peak RSS over one scenario, and the load generator's own CPU."""

    def __init__(self, server):
        self.s = server
        server.reset_peak_rss()
        self.cpu0 = server.cpu_seconds()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.gen0 = ru.ru_utime + ru.ru_stime
        self.t0 = time.monotonic()

    def finish(self, duration=None):
        wall = time.monotonic() - self.t0
        d = duration or wall
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "cpu_pct": round(100 * (self.s.cpu_seconds() - self.cpu0) / d, 1),
            "load_gen_cpu_pct": round(100 * (ru.ru_utime + ru.ru_stime - self.gen0) / d, 1),
            "peak_rss_mib": self.s.peak_rss_mib(),
        }


def parse_bench_json(out):
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return None


def non2xx(statuses):
    return sum(v for k, v in statuses.items() if not 200 <= int(k) <= 299)


def run_wrk(ctx, script, conns, secs, env, path="/", ok=(200,), label=""):
    """One wrk run with a bench/ script; returns the figures, with `problems` listed."""
    srv = ctx.server
    threads = min(2, conns)
    cmd = [ctx.wrk, f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency", "--timeout", "10s",
           "-s", str(BENCH / script), srv.base + path]
    full_env = dict(os.environ, BENCH_DIR=str(BENCH), THREADS=str(threads), **env)
    m = Measure(srv)
    p = spawn(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    prof = start_perf(ctx, label, secs)
    try:
        out, err = p.communicate(timeout=secs + 180)
    except subprocess.TimeoutExpired:
        end(p)
        out, err = "", "wrk did not finish in time"
    end(p)
    finish_perf(ctx, prof)
    data = parse_bench_json(out)
    if data is None:
        return {"problems": [f"{label}: wrk printed no result (exit {p.returncode}): "
                             f"{(err or out).strip()[-500:]}"], "requests": 0}
    dur = data["duration_us"] / 1e6
    res = {
        "requests": data["requests"],
        "duration_s": round(dur, 3),
        "rps": round(data["requests"] / dur, 1) if dur > 0 else 0.0,
        "p50_ms": round(data["latency_us"]["p50"] / 1000, 3),
        "p90_ms": round(data["latency_us"]["p90"] / 1000, 3),
        "p99_ms": round(data["latency_us"]["p99"] / 1000, 3),
        "max_ms": round(data["latency_us"]["max"] / 1000, 3),
        "statuses": data["statuses"],
        "counters": data["counters"],
        "socket_errors": {k: v for k, v in data["errors"].items() if v and k != "status"},
        "samples": data["samples"],
        "connections": conns,
        "secs": secs,
    }
    res.update(m.finish(dur))
    res["non2xx"] = non2xx(res["statuses"])
    problems = []
    if res["requests"] == 0:
        problems.append(f"{label}: produced no requests")
    bad = {k: v for k, v in res["statuses"].items() if int(k) not in ok}
    if bad:
        problems.append(f"{label}: unexpected statuses {bad}; first bodies: {res['samples'][:3]}")
    if res["socket_errors"]:
        problems.append(f"{label}: wrk socket errors {res['socket_errors']}")
    if not srv.healthy():
        problems.append(f"{label}: the server died or stopped answering:\n{srv.log_tail()}")
    res["problems"] = problems
    return res


def start_perf(ctx, label, secs):
    """`perf record` of the server over a scenario named in --perf (perf-LABEL.data in --out)."""
    if label not in ctx.perf:
        return None
    perf = need_tool("perf", "install Debian's `linux-perf` package")
    Path(ctx.out).mkdir(parents=True, exist_ok=True)
    data = Path(ctx.out) / f"perf-{ctx.backend}-{label}.data"
    cmd = [perf, "record", "-q", "-F", "999", "--call-graph", "dwarf,16384", "-o", str(data),
           "-p", str(ctx.server.proc.pid), "--", "sleep", str(max(1, secs - 1))]
    log(f"{label}: perf record -> {data}")
    return data, spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish_perf(ctx, prof):
    if prof is None:
        return
    data, p = prof
    try:
        _, err = p.communicate(timeout=120)
    finally:
        end(p)
    if p.returncode != 0:
        ctx.problem(f"perf record failed ({p.returncode}): {err.strip()[-300:]}")
    else:
        log(f"profile: perf report -i {data} --no-children --percent-limit 1")
        flamegraph(ctx, data)


def flamegraph(ctx, data):
    """flame-BACKEND-LABEL.svg beside a profile, when inferno's tools are on PATH
    (`cargo install inferno`); after the scenario, so it does not load the measured server."""
    collapse, draw = shutil.which("inferno-collapse-perf"), shutil.which("inferno-flamegraph")
    if not (collapse and draw):
        log("no flame graph: `cargo install inferno` puts inferno-collapse-perf and "
            "inferno-flamegraph on PATH")
        return
    svg = data.with_name(data.name.replace("perf-", "flame-", 1)).with_suffix(".svg")
    title = f"tcauth {data.stem.removeprefix('perf-')} (server threads)"
    # perf script | inferno-collapse-perf --all | inferno-flamegraph > svg
    with open(svg, "w") as out:
        stages = [spawn([shutil.which("perf"), "script", "-i", str(data)],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)]
        stages.append(spawn([collapse, "--all"], stdin=stages[-1].stdout, stdout=subprocess.PIPE))
        stages.append(spawn([draw, "--title", title, "--minwidth", "0.4", "--width", "1400"],
                            stdin=stages[-1].stdout, stdout=out))
        for p in stages[:-1]:
            p.stdout.close()  # each stage sees the end of its input when the one before exits
        failed = [p.args[0] for p in stages if p.wait() != 0]
    if failed:
        ctx.problem(f"flame graph of {data} failed in {failed}")
    else:
        log(f"flame graph: {svg}")


def show(name, r):
    if r.get("rps") is None or "p50_ms" not in r:
        return
    extra = ""
    if r.get("non2xx"):
        extra = f", non-2xx {r['non2xx']}"
    log(f"{name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
        f"CPU {r['cpu_pct']} %, peak RSS {fmt_mib(r['peak_rss_mib'])}{extra}")


def fmt_mib(v):
    return "-" if v is None else f"{v:.1f} MiB"


# --- codes and tokens ------------------------------------------------------------------------

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
                out, err = "", ""
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


# --- the scenarios ---------------------------------------------------------------------------

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
        "scopes": ["openid", "phone", "offline_access"],
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
        peak_now = [srv.rss_mib() or 0]
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


# --- seeding ---------------------------------------------------------------------------------
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


# --- a backend ---------------------------------------------------------------------------

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
            "refresh": "ceiling", "flow": "ceiling"}


def closed_loop_round(ctx, want, est, userinfo_tokens, k=0):
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
    if want("userinfo") and userinfo_tokens:
        keep("userinfo", run_wrk(ctx, "userinfo.lua", ctx.conns, ctx.secs,
                                 {"TOKENS_FILE": str(userinfo_tokens)}, "/v1/userinfo",
                                 label="userinfo"))
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
                         "refresh", "flow")
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
        userinfo_tokens = None
        if want("userinfo"):
            toks = token_pool(ctx, ["openid", "phone"], 4 * ctx.conns, "userinfo-setup")
            userinfo_tokens = work / "userinfo-tokens.txt"
            userinfo_tokens.write_text("".join(t["access_token"] + "\n" for t in toks))
        rounds = []
        for k in range(ctx.rounds):
            if ctx.rounds > 1:
                log(f"--- {b}: round {k + 1} of {ctx.rounds}")
            rounds.append(closed_loop_round(ctx, want, est, userinfo_tokens, k))
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


# --- reporting ---------------------------------------------------------------------------

ROWS = [
    ("ceiling", "`GET /healthz` (HTTP ceiling)"),
    ("exchange", "code exchange, no `openid`"),
    ("exchange_openid", "code exchange, `openid` (RS256)"),
    ("userinfo", "`GET /v1/userinfo`"),
    ("refresh", "refresh grant (rotation)"),
    ("flow", "full flow: mint + exchange + userinfo"),
    ("rss256", "code exchange at 256 connections"),
    ("growth", "code exchange, {growth} tokens stored"),
    ("overload_base", "open loop at 0.5x exchange rate"),
    ("overload", "open loop at 4x exchange rate (accepted)"),
]


def ratio_of(name, r, b, ctx):
    res = ctx.results[b]
    ceil = res.get("ceiling", {}).get("rps")
    sign = (ctx.signing or {}).get("rps")
    ex = res.get("exchange", {}).get("rps")
    rps = r.get("rps")
    if not rps:
        return None, ""
    if r.get("ratio") is not None:  # divided by the ceiling of its own round
        return r["ratio"], "of signing" if name == "exchange_openid" else "of ceiling"
    if name in ("exchange", "userinfo", "flow", "refresh") and ceil:
        return rps / ceil, "of ceiling"
    if name == "ceiling":
        return 1.0, "of ceiling"
    if name == "exchange_openid" and sign:
        return rps / sign, "of signing"
    if name in ("growth", "rss256", "overload", "overload_base") and ex:
        return rps / ex, "of exchange"
    return None, ""


def short_count(n):
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % (div // 10) == 0:
            return f"{n / div:g}{suffix}"
    return f"{n:,}"


def table(ctx):
    out = ["| scenario | backend | req/s | p50 | p99 | CPU % | peak RSS | ratio | non-2xx |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    if ctx.signing:
        out.append(f"| RSA-2048 signing ceiling (`openssl speed -multi {ctx.signing['processes']}`) "
                   f"| – | {ctx.signing['rps']:,.0f} sign/s | | | | | 100 % of signing | |")
    for name, label in ROWS:
        label = label.format(growth=short_count(ctx.growth_tokens))
        for b in ctx.backends:
            r = ctx.results.get(b, {}).get(name)
            if not r or r.get("rps") is None:
                continue
            ratio, what = ratio_of(name, r, b, ctx)
            if ratio is not None and r.get("ratio_range"):
                lo, hi = r["ratio_range"]
                what += f" ({100 * lo:.0f}–{100 * hi:.0f})"
            rps = f"{r['rps']:,.0f}"
            if name == "flow" and r.get("iterations_per_s") is not None:
                rps += f" ({r['iterations_per_s']:,.0f} it/s)"
            if name.startswith("overload"):
                rps += f" (+{r['shed_per_s']:,.0f} shed/s)"
            p50 = "-" if r.get("p50_ms") is None else f"{r['p50_ms']:.2f} ms"
            p99 = "-" if r.get("p99_ms") is None else f"{r['p99_ms']:.2f} ms"
            non = r.get("non2xx", 0)
            if name.startswith("overload"):
                non = f"{non} (503s expected)" if non else "0"
            out.append(f"| {label} | {b} | {rps} | {p50} | {p99} | {r.get('cpu_pct', '-')} | "
                       f"{fmt_mib(r.get('peak_rss_mib'))} | "
                       f"{'' if ratio is None else f'{100 * ratio:.0f} % {what}'} | {non} |")
    return "\n".join(out)


def rounds_table(ctx):
    """With --rounds: every round's rate and ratio, each ratio divided by its own round's
    ceiling (the main table shows the median round)."""
    if ctx.rounds <= 1:
        return ""
    out = ["| scenario | backend | " + " | ".join(f"round {k + 1}" for k in range(ctx.rounds)) + " |",
           "|---|---|" + "---:|" * ctx.rounds]
    for name, label in [("signing", "RSA-2048 signing ceiling (sign/s)")] + ROWS:
        if name not in ("ceiling", "signing") + tuple(RATIO_OF):
            continue
        for b in ctx.backends:
            r = ctx.results.get(b, {}).get(name) or {}
            cells = []
            for x in r.get("rounds", []):
                c = f"{x['rps']:,.0f}" if x.get("rps") is not None else "-"
                if x.get("ratio") is not None:
                    c += f" ({100 * x['ratio']:.0f} %)"
                cells.append(c)
            if cells:
                out.append(f"| {label} | {b} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(ctx):
    """The issue's targets as (ok, text); ok None when not measured."""
    lines = []

    def add(ok, text):
        lines.append((ok, text))

    for b in ctx.backends:
        res = ctx.results.get(b, {})
        g = lambda n, k="rps": res.get(n, {}).get(k)  # noqa: E731
        ex = g("exchange")

        def ratio(name):
            """(ratio, its round's ceiling, the rounds and their range) of a scenario
            (`combine_rounds`)."""
            r = res.get(name, {})
            if r.get("ratio") is None:
                return None, None, ""
            rng = r.get("ratio_range")
            spread = (f", median of {len(r['rounds'])} rounds, "
                      f"{100 * rng[0]:.0f}–{100 * rng[1]:.0f} %") if rng else ""
            return r["ratio"], r["ratio_of_rps"], spread

        v, den, spread = ratio("exchange")
        if b == "sqlite" and v is not None:
            add(v >= 0.5, f"{b}: exchange without openid {ex:,.0f} req/s = "
                f"{100 * v:.1f} % of the HTTP ceiling {den:,.0f}{spread} (target >= 50 %)")
        v, den, spread = ratio("exchange_openid")
        if v is not None:
            add(v >= 0.7, f"{b}: exchange with openid {g('exchange_openid'):,.0f} req/s = "
                f"{100 * v:.1f} % of the signing ceiling {den:,.0f}/s{spread} (target >= 70 %)")
        v, den, spread = ratio("userinfo")
        if v is not None:
            add(v >= 0.7, f"{b}: userinfo {g('userinfo'):,.0f} req/s = {100 * v:.1f} % of the "
                f"HTTP ceiling {den:,.0f}{spread} (target >= 70 %)")
        rss = g("rss256", "peak_rss_mib")
        if rss is not None:
            add(rss <= RSS_LIMIT_MIB, f"{b}: peak RSS at 256 connections {rss:.1f} MiB "
                f"(target <= {RSS_LIMIT_MIB} MiB)")
        if g("growth", "vs_empty") is not None:
            v = g("growth", "vs_empty")
            add(v >= 0.8, f"{b}: exchange with {g('growth', 'seeded_live'):,} live tokens stored "
                f"{g('growth'):,.0f} req/s = {100 * v:.1f} % of the empty store (target >= 80 %)")
        sw = res.get("sweeper")
        if sw and sw.get("rows_per_s") and ex:
            add(sw["rows_per_s"] >= ex, f"{b}: sweeper deleted {sw['rows_per_s']:,.0f} expired "
                f"tokens/s at its defaults (sweep_interval={sw['sweep_interval']} s, "
                f"sweep_batch={sw['sweep_batch']}) vs. a peak issue rate of {ex:,.0f} access "
                f"tokens/s (target: at least as fast, or the store grows under sustained peak)")
        ov, base = res.get("overload"), res.get("overload_base")
        if ov:
            up = ov["healthz_after"] and not ov["health"]["failed"]
            add(up, f"{b}: overload at {ov['target_rate']:,.0f} req/s: server up, /healthz "
                f"{ov['health']['ok']}/{ov['health']['checks']} ok during the run")
            shed_ok = ov["statuses"].get("503", 0) > 0 and ov["p99_503_ms"] is not None
            base_p99 = base and base.get("p99_ms")
            add(bool(shed_ok and base_p99 and ov["p99_503_ms"] <= base_p99),
                f"{b}: overload sheds {ov['shed_per_s']:,.0f}/s with 503 temporarily_unavailable, "
                f"p99 of the 503s {ov['p99_503_ms']} ms (target: quickly, i.e. within the "
                f"unloaded p99 of a 200, {base['p99_ms'] if base else '-'} ms)")
            if base and ov.get("p99_vs_unloaded") is not None:
                add(ov["p99_vs_unloaded"] <= 5, f"{b}: overload p99 of accepted {ov['p99_ms']} ms = "
                    f"{ov['p99_vs_unloaded']} x the unloaded p99 {base['p99_ms']} ms at 0.5 x "
                    f"(target <= 5 x; max_in_flight {ov['max_in_flight']})")
            if ov.get("peak_rss_mib") is not None:
                add(ov["peak_rss_mib"] <= RSS_LIMIT_MIB, f"{b}: overload peak RSS "
                    f"{ov['peak_rss_mib']:.1f} MiB (target: bounded, <= {RSS_LIMIT_MIB} MiB)")
    bad = [p for p in ctx.problems]
    add(not any("unexpected" in p for p in bad), "zero unexpected non-2xx answers "
        f"({sum('unexpected' in p for p in bad)} scenario(s) with some)")
    return lines


def chart_svg(ctx):
    """Grouped horizontal bars: requests/s per scenario, one bar per backend, ceilings marked."""
    names = [(n, l) for n, l in ROWS if any(ctx.results.get(b, {}).get(n, {}).get("rps")
                                            for b in ctx.backends)]
    colors = {"sqlite": "#2b6cb0", "postgres": "#dd6b20"}
    bar_h, gap, left, width, top = 16, 14, 330, 560, 70
    group_h = bar_h * len(ctx.backends) + gap
    height = top + group_h * len(names) + 70
    values = [ctx.results[b][n]["rps"] for n, _ in names for b in ctx.backends
              if ctx.results.get(b, {}).get(n, {}).get("rps")]
    sign = (ctx.signing or {}).get("rps")
    vmax = max(values + ([sign] if sign else []) + [1]) * 1.12
    x = lambda v: left + width * v / vmax  # noqa: E731
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "")  # noqa: E731
    total_w = left + width + 140
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height}" '
         f'viewBox="0 0 {total_w} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
         f'<rect width="{total_w}" height="{height}" fill="white"/>',
         f'<text x="{total_w / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
         f'tcauth: requests/s per scenario ({esc(ctx.machine["date"][:10])}, {ctx.machine["nproc"]} cores, '
         f'{ctx.conns} connections, {ctx.secs} s)</text>']
    # legend
    lx = left
    for b in ctx.backends:
        s.append(f'<rect x="{lx}" y="38" width="14" height="14" fill="{colors[b]}"/>'
                 f'<text x="{lx + 20}" y="50">{"SQLite" if b == "sqlite" else "PostgreSQL"}</text>')
        lx += 120
    # grid
    step = 10 ** math.floor(math.log10(vmax / 5)) if vmax > 10 else 1
    for mult in (1, 2, 5, 10):
        if vmax / (step * mult) <= 8:
            step *= mult
            break
    v = 0
    while v <= vmax:
        s.append(f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" y2="{top + group_h * len(names)}" '
                 f'stroke="#e2e8f0"/><text x="{x(v):.1f}" y="{top + group_h * len(names) + 16}" '
                 f'text-anchor="middle" fill="#4a5568">{v / 1000:g}k</text>')
        v += step
    s.append(f'<text x="{left + width / 2}" y="{top + group_h * len(names) + 36}" text-anchor="middle" '
             f'fill="#4a5568">requests per second (overload: accepted)</text>')
    # ceilings
    marks = []
    for b in ctx.backends:
        c = ctx.results.get(b, {}).get("ceiling", {}).get("rps")
        if c:
            marks.append((c, colors[b], f"HTTP ceiling ({b})"))
    if sign:
        marks.append((sign, "#2f855a", "RSA signing ceiling"))
    for v, col, _ in marks:
        s.append(f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" '
                 f'y2="{top + group_h * len(names)}" stroke="{col}" stroke-width="1.5" '
                 f'stroke-dasharray="5,4"/>')
    y = top
    for n, label in names:
        label = label.format(growth=short_count(ctx.growth_tokens))
        s.append(f'<text x="{left - 10}" y="{y + bar_h * len(ctx.backends) / 2 + 4}" text-anchor="end">'
                 f'{esc(label)}</text>')
        for b in ctx.backends:
            r = ctx.results.get(b, {}).get(n, {})
            v = r.get("rps")
            if v:
                s.append(f'<rect x="{left}" y="{y}" width="{max(1.0, x(v) - left):.1f}" '
                         f'height="{bar_h - 3}" fill="{colors[b]}"/>'
                         f'<text x="{x(v) + 5:.1f}" y="{y + bar_h - 5}" font-size="11" stroke="white" '
                         f'stroke-width="3" paint-order="stroke">{v:,.0f}</text>')
            y += bar_h
        y += gap
    # legend of the dashed lines
    ly = height - 14
    lx = 20
    for v, col, lab in marks:
        s.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{col}" '
                 f'stroke-width="1.5" stroke-dasharray="5,4"/><text x="{lx + 30}" y="{ly}" '
                 f'font-size="11">{esc(lab)}: {v:,.0f}/s</text>')
        lx += 250
    s.append("</svg>")
    return "\n".join(s) + "\n"


# --- main --------------------------------------------------------------------------------

class Ctx:
    def __init__(self, args):
        self.quick = args.quick
        self.secs = args.secs if args.secs else (2 if args.quick else 10)
        self.conns = args.conns
        self.backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        self.skip = set(filter(None, (args.skip or "").split(",")))
        unknown = self.skip - set(SCENARIOS)
        if unknown:
            raise SystemExit(f"--skip: unknown scenario(s) {sorted(unknown)}; known: {SCENARIOS}")
        self.perf = set(filter(None, (args.perf or "").split(",")))
        unknown = self.perf - set(SCENARIOS)
        if unknown:
            raise SystemExit(f"--perf: unknown scenario(s) {sorted(unknown)}; known: {SCENARIOS}")
        self.out = args.out
        self.backend = None
        self.growth_tokens = args.growth_tokens or (100_000 if args.quick else 10_000_000)
        self.sweep_tokens = args.sweep_tokens or (20_000 if args.quick else 1_000_000)
        self.sweep_secs = args.sweep_secs or (15 if args.quick else 30)
        self.dead_seeded = 0
        self.seeded_before = None
        self.openloop_conns = args.openloop_conns
        self.server_config = {}
        if args.max_in_flight:
            self.server_config["max_in_flight"] = args.max_in_flight
        self.mint_conns = 64
        self.mint_cap = 300.0
        self.admin_token = "bench-admin-" + secrets.token_hex(16)
        self.verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
        self.challenge = base64.urlsafe_b64encode(
            hashlib.sha256(self.verifier.encode()).digest()).decode().rstrip("=")
        self.problems = []
        self.results = {}
        self.signing = None
        self.rounds = args.rounds if args.rounds else (2 if args.quick else 3)
        self.signing_rounds = []
        self.server = None
        self.binary = self.openloop = self.wrk = self.psql = None

    def problem(self, text):
        self.problems.append(text)
        log("PROBLEM: " + text)


def git_commit():
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "") if head else None
    except (OSError, subprocess.SubprocessError):
        return None


def build(ctx, args):
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    need_openloop = "overload" not in ctx.skip and not args.openloop
    cmd = None
    if not args.binary and need_openloop:
        cmd = ["build", "--release", "-q", "-p", "tcauth", "--bin", "tcauth", "--example", "openloop"]
    elif not args.binary:
        cmd = ["build", "--release", "-q", "-p", "tcauth", "--bin", "tcauth"]
    elif need_openloop:
        cmd = ["build", "--release", "-q", "-p", "tcauth", "--example", "openloop"]
    if cmd:
        cargo = need_tool("cargo", "install a Rust toolchain, or pass --binary and --openloop")
        log(f"cargo {' '.join(cmd)}")
        t0 = time.monotonic()
        p = spawn([cargo] + cmd, cwd=ROOT)
        try:
            rc = p.wait(timeout=3600)
        finally:
            end(p)
        if rc != 0:
            raise Abort(f"cargo {' '.join(cmd)} failed ({rc})")
        log(f"built in {time.monotonic() - t0:.0f} s")
    ctx.binary = str(Path(args.binary).resolve()) if args.binary else str(target / "release" / "tcauth")
    if "overload" not in ctx.skip:
        ctx.openloop = (str(Path(args.openloop).resolve()) if args.openloop
                        else str(target / "release" / "examples" / "openloop"))
    for p in filter(None, (ctx.binary, ctx.openloop)):
        if not os.access(p, os.X_OK):
            raise Abort(f"not an executable: {p}")


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: ~2 s per scenario, 100k seeded tokens, short overload")
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--secs", type=int, help="seconds per scenario (default 10, quick 2)")
    ap.add_argument("--conns", type=int, default=64, help="wrk connections (default 64)")
    ap.add_argument("--binary", help="tcauth binary to run (default: cargo build --release)")
    ap.add_argument("--openloop", help="openloop binary for the overload scenario (default: "
                    "cargo build --release --example openloop)")
    ap.add_argument("--out", default=str(ROOT / "target" / "bench"),
                    help="directory for results.json, results.md, chart.svg (default target/bench)")
    ap.add_argument("--skip", help=f"comma-separated scenarios to leave out: {','.join(SCENARIOS)}")
    ap.add_argument("--perf", help="comma-separated wrk scenarios to profile with `perf record` "
                    "(call graphs; perf-BACKEND-SCENARIO.data in --out)")
    ap.add_argument("--growth-tokens", type=int, help="tokens seeded for `growth` (default 10M, quick 100k)")
    ap.add_argument("--sweep-tokens", type=int, help="expired tokens for `sweeper` (default 1M, quick 20k)")
    ap.add_argument("--sweep-secs", type=int,
                    help="longest wait for the sweeper, in seconds (default 30, quick 15)")
    ap.add_argument("--rounds", type=int,
                    help="rounds of the closed-loop scenarios (ceiling, exchange, signing, openid "
                    "exchange, userinfo, refresh, flow), each ratio divided by the ceiling of "
                    "its own round; the median round is reported (default 3, quick 2)")
    ap.add_argument("--max-in-flight", type=int, help="the server's max_in_flight (default: its own, 1024)")
    ap.add_argument("--openloop-conns", type=int, default=4096,
                    help="connections of the open-loop generator, opened before it starts: also "
                    "its bound on requests in flight; more than max_in_flight, or nothing is "
                    "shed (default 4096)")
    args = ap.parse_args()
    if args.conns < 2:
        ap.error("--conns must be at least 2")
    if args.rounds is not None and not 1 <= args.rounds <= 50:
        ap.error("--rounds must be from 1 to 50")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # even where started with SIGINT ignored
    ctx = Ctx(args)
    # The open-loop generator holds --openloop-conns connections and the server as many: lift
    # the descriptor limit (inherited by both) to the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if ctx.openloop_conns + 512 > want:
        ctx.openloop_conns = max(64, want - 512)
        log(f"open files limited to {want}: the open-loop generator uses {ctx.openloop_conns} "
            "connections")
    t_start = time.monotonic()
    out = Path(args.out)
    if not out.is_absolute():
        out = Path.cwd() / out
    try:
        ctx.wrk = need_tool("wrk", "install Debian's `wrk` package (apt-get install wrk)")
        if "postgres" in ctx.backends:
            ctx.psql = need_tool("psql", "install Debian's `postgresql-client` package, or run "
                                 "--backend sqlite")
        if "signing" not in ctx.skip:
            need_tool("openssl", "install Debian's `openssl` package")
        build(ctx, args)
        ctx.machine = {
            "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": git_commit(), "binary": ctx.binary, "kernel": platform.release(),
            "cpu": cpu_model(), "mem_gib": mem_gib(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "wrk": subprocess.run([ctx.wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[:1],
        }
        ctx.machine["fsync"] = fsync_probe(ROOT / "target", 1.0 if ctx.quick else 5.0)
        log(f"binary {ctx.binary}; {ctx.secs} s per scenario, {ctx.conns} connections, "
            f"backends {', '.join(ctx.backends)}{' (quick)' if ctx.quick else ''}")
        if "signing" not in ctx.skip and ctx.rounds == 1:
            ctx.signing = signing_ceiling(ctx)
        for b in ctx.backends:
            ctx.results[b] = run_backend(ctx, b)
        if ctx.signing_rounds:  # the table's row: the median of the rounds' measurements
            ranked = sorted(ctx.signing_rounds, key=lambda r: r["rps"])
            ctx.signing = dict(ranked[(len(ranked) - 1) // 2], rounds=[r["rps"] for r in ranked])
    except Abort as e:
        ctx.problem(str(e))
    except KeyboardInterrupt:
        log("interrupted")
        end_all()
        return 130
    finally:
        end_all()
    elapsed = time.monotonic() - t_start
    ctx.machine = getattr(ctx, "machine", {"nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    ctx.machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    tbl = table(ctx)
    tgt = targets(ctx)
    tgt_lines = [f"{'PASS' if ok else 'MISS'}  {text}" for ok, text in tgt if ok is not None]
    md = [f"# tcauth benchmark {ctx.machine['date']}", "",
          f"{ctx.machine['nproc']} cores, commit {ctx.machine.get('commit')}, "
          f"wrk -t2 -c{ctx.conns} -d{ctx.secs}s{' (quick)' if ctx.quick else ''}"
          f"{f', {ctx.rounds} rounds (median round shown, ratio range in brackets)' if ctx.rounds > 1 else ''}"
          f", run took {elapsed:.0f} s, "
          f"load average {ctx.machine.get('loadavg_at_start', ['?'])[0]} at the start "
          f"(anything else running skews the figures)", "", fsync_line(ctx.machine.get("fsync")), "",
          tbl, ""]
    rtbl = rounds_table(ctx)
    if rtbl:
        md += ["Every round (ratios of the ceiling measured in the same round):", "", rtbl, ""]
    md += ["Targets (ratios within this run):", ""] + [f"- {l}" for l in tgt_lines]
    if ctx.problems:
        md += ["", "Problems:", ""] + [f"- {p}" for p in ctx.problems]
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": ctx.machine, "quick": ctx.quick, "secs": ctx.secs, "connections": ctx.conns,
        "rounds": ctx.rounds,
        "elapsed_s": round(elapsed, 1), "signing_ceiling": ctx.signing,
        "growth_tokens": ctx.growth_tokens, "sweep_tokens": ctx.sweep_tokens,
        "server_config": {"code_ttl": 600, "rate_limit": "lifted", **ctx.server_config},
        "backends": ctx.results, "targets": [{"pass": ok, "text": t} for ok, t in tgt],
        "problems": ctx.problems,
    }
    files = {"results.json": json.dumps(doc, indent=2, default=str) + "\n",
             "results.md": "\n".join(md) + "\n", "chart.svg": chart_svg(ctx)}
    for name, text in files.items():
        (out / name).write_text(text)
    missing = [n for n in files if not (out / n).is_file() or (out / n).stat().st_size == 0]
    if missing:
        ctx.problem(f"output files missing: {missing}")
    print(tbl)
    print()
    for l in tgt_lines:
        print(l)
    log(f"wrote {out}/results.json, results.md, chart.svg; took {elapsed:.0f} s")
    if ctx.problems:
        print("\nFAILED:", file=sys.stderr)
        for p in ctx.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    return 0


def fsync_probe(where, secs):
    """The disk's commit latency, which every SQLite p99 includes: 48 KiB written and fsync'd
    over and over for `secs` in a scratch file under `where` (a virtual disk stalls now and
    then for tens of milliseconds whatever the server does)."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / f".fsync-probe-{os.getpid()}"
    block = os.urandom(48 * 1024)
    lat = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        end_at = time.monotonic() + secs
        while time.monotonic() < end_at:
            t = time.perf_counter()
            os.pwrite(fd, block, (len(lat) % 64) * len(block))
            os.fsync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    lat.sort()
    q = lambda f: round(lat[min(len(lat) - 1, int(len(lat) * f))] * 1000, 3)
    r = {"secs": secs, "count": len(lat), "p50_ms": q(0.5), "p99_ms": q(0.99),
         "p999_ms": q(0.999), "max_ms": round(lat[-1] * 1000, 1),
         "over_50ms": sum(1 for x in lat if x > 0.05)}
    log(fsync_line(r))
    return r


def fsync_line(r):
    if not r:
        return "fsync probe: not run"
    return (f"fsync probe ({r['secs']:.0f} s, 48 KiB writes): p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"p99.9 {r['p999_ms']} ms, max {r['max_ms']} ms, {r['over_50ms']} over 50 ms "
            f"(every SQLite commit waits for one)")


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def mem_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


if __name__ == "__main__":
    sys.exit(main())
