#!/usr/bin/env python3
"""A bounded load test of `searchkit serve`, on loopback only.

    python benchmarks/load.py                      # 30,000 docs, 2,000 requests, concurrency 16, 2 workers
    python benchmarks/load.py --docs 3000 --requests 500

Builds an index of the generated corpus (../shared/bench/make_corpus.py, as
benchmarks/bench.py does), starts `searchkit serve --workers N` on a free port
of 127.0.0.1, and sends a fixed number of GET /api/search requests (the real
queries of ../shared/corpus/queries_dev.tsv, in order, cycled) from
``--concurrency`` client threads with keep-alive connections.  When half of
them have been sent, `searchkit index --rebuild` starts on the same index.
If the rebuild is still running when the fixed requests are done, requests go
on (not counted in the rates) until the rebuild has finished and the servers
had ``--settle`` seconds to swap in the new generation, at most ``--max-tail``
seconds: every request across the swap must succeed too.  Prints requests/s,
p50/p90/p99 latency and every error; exits 1 if any request failed.
Figures, not pass/fail timings: the client shares the machine's cores.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SEARCHKIT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
HOST = "127.0.0.1"  # never anything but loopback


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def searchkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "searchkit", "-q", *args]


class Load:
    """Client threads sharing one counter of requests to send."""

    def __init__(self, port: int, queries: list[str], limit: int, go_on: bool):
        self.port, self.queries, self.limit, self.go_on = port, queries, limit, go_on
        self.lock = threading.Lock()
        self.sent = 0
        self.stop = threading.Event()
        self.latencies: list[float] = []  # of the counted (first ``limit``) requests
        self.tail = 0  # requests sent after them
        self.errors: list[str] = []
        self.half = threading.Event()

    def _next(self) -> int | None:
        with self.lock:
            if self.stop.is_set() or (self.sent >= self.limit and not self.go_on):
                return None
            n = self.sent
            self.sent += 1
            if n + 1 >= self.limit // 2:
                self.half.set()
            return n

    def worker(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        while (n := self._next()) is not None:
            q = self.queries[n % len(self.queries)]
            path = "/api/search?" + urllib.parse.urlencode({"q": q, "limit": 10})
            start = time.perf_counter()
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                ok = r.status == 200
                detail = f"{r.status} {body[:200].decode('utf-8', 'replace')}"
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
                ok, detail = False, f"{e.__class__.__name__}: {e}"
            elapsed = time.perf_counter() - start
            with self.lock:
                if n < self.limit:
                    self.latencies.append(elapsed)
                else:
                    self.tail += 1
                if not ok:
                    self.errors.append(f"request {n} ({q}): {detail}")
        conn.close()


def wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("load: searchkit serve exited")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("load: searchkit serve did not become healthy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=30000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds of requests after the rebuild ends")
    ap.add_argument("--max-tail", type=float, default=180.0, help="longest the requests after the fixed ones go on")
    ap.add_argument("--workdir", help="keep the corpus and index here (reused when present)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    make = os.path.join(SHARED, "bench", "make_corpus.py")
    queries_file = os.path.join(SHARED, "corpus", "queries_dev.tsv")
    if not (os.path.exists(make) and os.path.exists(queries_file)):
        raise SystemExit(f"load: needs {make} and {queries_file} (the team's shared data)")
    with open(queries_file, encoding="utf-8") as f:
        queries = [line.split("\t", 1)[1].strip() for line in f if "\t" in line]
    work = a.workdir or tempfile.mkdtemp(prefix="searchkit-load-")
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, f"corpus-{a.docs}.jsonl")
    index_dir = os.path.join(work, f"index-{a.docs}")
    if not os.path.exists(corpus):
        subprocess.run([sys.executable, make, "--docs", str(a.docs), "--jsonl", corpus], check=True)
    if not os.path.exists(index_dir):
        subprocess.run(searchkit("index", corpus, "--index-dir", index_dir, "--rebuild"), check=True)

    port = free_port()
    log_path = os.path.join(work, "serve.log")
    with open(log_path, "wb") as log:
        server = subprocess.Popen(searchkit("serve", "--index-dir", index_dir, "--host", HOST, "--port", str(port),
                                            "--workers", str(a.workers)), stdout=log, stderr=subprocess.STDOUT)
    rebuild = None
    try:
        wait_healthy(port, server)
        warm = Load(port, queries[-50:], a.concurrency * 4, go_on=False)  # each worker opens its index on first use
        warm_threads = [threading.Thread(target=warm.worker) for _ in range(a.concurrency)]
        for t in warm_threads:
            t.start()
        for t in warm_threads:
            t.join()

        load = Load(port, queries, a.requests, go_on=True)  # until stopped, after the counted ones
        threads = [threading.Thread(target=load.worker) for _ in range(a.concurrency)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        load.half.wait()
        rebuild_start = time.perf_counter()
        rebuild = subprocess.Popen(searchkit("index", corpus, "--index-dir", index_dir, "--rebuild"))
        while len(load.latencies) < a.requests:  # the counted requests
            time.sleep(0.01)
        counted_s = time.perf_counter() - start
        rebuild_end = None
        deadline = time.perf_counter() + a.max_tail
        while time.perf_counter() < deadline:
            if rebuild_end is None and rebuild.poll() is not None:
                rebuild_end = time.perf_counter()
            if rebuild_end is not None and time.perf_counter() > rebuild_end + a.settle:
                break
            time.sleep(0.05)
        load.stop.set()
        for t in threads:
            t.join()
        if rebuild.wait() != 0:
            load.errors.append(f"searchkit index --rebuild exited {rebuild.returncode}")
    finally:
        if rebuild is not None and rebuild.poll() is None:
            rebuild.terminate()
            rebuild.wait()
        server.terminate()
        server.wait(timeout=30)

    lat = [x * 1000 for x in load.latencies[:a.requests]]
    out = {
        "docs": a.docs, "requests": a.requests, "concurrency": a.concurrency, "workers": a.workers,
        "seconds": round(counted_s, 2), "requests_per_s": round(a.requests / counted_s, 1),
        "p50_ms": round(pct(lat, 50), 1), "p90_ms": round(pct(lat, 90), 1), "p99_ms": round(pct(lat, 99), 1),
        "max_ms": round(max(lat), 1),
        "rebuild_started_at_s": round(rebuild_start - start, 2),
        "rebuild_s": round(rebuild_end - rebuild_start, 2) if rebuild_end else None,
        "requests_after_the_fixed_ones": load.tail, "errors": len(load.errors),
        "errors_in_the_fixed_ones": sum(int(e.split()[1]) < a.requests for e in load.errors if e.startswith("request ")),
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:32} {v}")
    kinds = collections.Counter(e.split(": ", 1)[1] for e in load.errors)
    for detail, count in kinds.most_common(10):
        print(f"load: {count} errors: {detail}", file=sys.stderr)
    if load.errors:
        print(f"load: server log: {log_path}", file=sys.stderr)
    elif not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if load.errors else 0)


if __name__ == "__main__":
    main()
