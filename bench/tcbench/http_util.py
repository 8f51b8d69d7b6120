"""HTTP helpers for the set-up work (not the measured load): one request, and a pool of
keep-alive connections."""

import http.client
import threading
from concurrent.futures import ThreadPoolExecutor


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

