"""What every module shares: the repository's paths, the suite's constants, `log` (progress on
stderr) and `Abort` (the exception that ends a run)."""

import os
import sys
import time
from pathlib import Path

# bench/tcbench/common.py -> the repository root (Lua scripts in bench/, cargo, target/).
ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
SCENARIOS = ["ceiling", "signing", "exchange", "exchange_openid", "userinfo", "web_profile",
             "refresh", "flow", "rss256", "overload", "growth", "sweeper"]
# The bearer-token reads, both through bench/userinfo.lua: (path, scopes of their tokens).
BEARER_READS = {"userinfo": ("/v1/userinfo", ["openid", "phone"]),
                "web_profile": ("/v1/default", ["profile"])}
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/tcauth_bench"
RSS_LIMIT_MIB = 150
HUGE = 1_000_000_000  # rate limits "lifted": far above anything one machine can send
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Abort(Exception):
    """A condition that ends the run: a missing tool, a server that does not start."""

