"""Measuring: server CPU and peak RSS over a scenario (`Measure`), one wrk run with a Lua script of
bench/ (`run_wrk`) and its figures, `perf record` profiles and flame graphs, the progress line."""

import json
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

from .common import BENCH, log
from .procs import end, need_tool, spawn


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

