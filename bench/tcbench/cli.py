"""The command line: `Ctx` (a run's settings and results), the build of the binaries, `main`
(argparse, the run, the output files) and the machine's description (commit, CPU, memory,
fsync probe)."""

import argparse
import base64
import hashlib
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from .backend import run_backend
from .common import ROOT, SCENARIOS, Abort, log
from .procs import end, end_all, need_tool, on_signal, spawn
from .report import chart_svg, rounds_table, table, targets
from .scenarios import signing_ceiling


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


def main(doc):
    """Runs the suite; `doc` (the launcher's docstring, bench/run.py) is the --help text.
    Returns the exit status."""
    ap = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        epilog="\n\n".join(doc.split("\n\n")[1:]),
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
                    "exchange, userinfo, web_profile, refresh, flow), each ratio divided by the ceiling of "
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

