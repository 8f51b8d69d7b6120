"""Child processes: every one started through `spawn` (in its own session) and ended by `end`, or
by `end_all` at exit; the signal handler that turns SIGTERM/SIGINT into KeyboardInterrupt;
free ports and required tools."""

import atexit
import os
import shutil
import signal
import socket
import subprocess

from .common import Abort


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

