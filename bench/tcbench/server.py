"""The server under test: `Server` writes a tcauth.toml (rate limits lifted), starts
`tcauth serve` on a store, waits for /healthz, reads its CPU and RSS from /proc and calls the
admin API."""

import json
import os
import subprocess
import time
from pathlib import Path

from .common import CLK_TCK, HUGE, Abort
from .http_util import request
from .procs import end, free_port, spawn


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

