"""Instructions a warm search executes, counted by Valgrind's callgrind:
a measure of the work a query does that a shared machine's swings in speed
do not move (wall-clock p50 on these cores drifts by half within minutes).

    python benchmarks/instructions.py INDEX_DIR [--queries N] [--code DIR]

Opens INDEX_DIR with the searchkit at DIR (default: this checkout), runs the
first N queries of ../shared/corpus/queries_dev.tsv once with 10 snippets
uninstrumented (posting lists decoded, caches warm), then counts the
instructions of a second such pass alone and prints them per query.  Needs
``valgrind`` (Debian: apt-get install valgrind).  NumPy picks its SIMD kernels
from the CPU that Valgrind reports, so vectorized loops (powf above all) count
more instructions than they run natively: compare two versions of the code,
not a count with a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
QUERIES = os.path.join(HERE, "..", "..", "shared", "corpus", "queries_dev.tsv")

# Run under callgrind with instrumentation off until the warm pass is done:
# the parent turns it on, then off again before the interpreter shuts down.
WORKER = r"""
import os, sys, time
from searchkit import SearchIndex
index_dir, queries_file, n, flags = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(queries_file, encoding="utf-8") as f:
    queries = [line.split("\t", 1)[1].strip() for line in f if "\t" in line][:n]
ix = SearchIndex.open(index_dir)
def wait(name):
    open(flags + "." + name, "w").close()
    while not os.path.exists(flags + ".go-" + name):
        time.sleep(0.05)
for q in queries:
    ix.search(q, limit=10, snippets=True)
wait("warm")
for q in queries:
    ix.search(q, limit=10, snippets=True)
wait("done")
"""


def _await(path: str, proc: subprocess.Popen) -> None:
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise SystemExit(f"instructions: the search process ended early ({proc.returncode})")
        time.sleep(0.2)


def count(index_dir: str, queries: int, code: str) -> int:
    """Instructions of one warm pass over the first ``queries`` dev queries."""
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            raise SystemExit(f"instructions: needs {tool} (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="searchkit-instr-") as tmp:
        flags, out = os.path.join(tmp, "flag"), os.path.join(tmp, "callgrind.out")
        env = dict(os.environ, PYTHONPATH=code)
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                                 sys.executable, "-c", WORKER, index_dir, QUERIES, str(queries), flags],
                                cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _await(flags + ".warm", proc)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        open(flags + ".go-warm", "w").close()
        _await(flags + ".done", proc)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
        open(flags + ".go-done", "w").close()
        if proc.wait() != 0:
            raise SystemExit(f"instructions: the search process failed ({proc.returncode})")
        with open(out) as f:
            totals = [int(line.split()[1]) for line in f if line.startswith("totals:")]
        if not totals:
            raise SystemExit(f"instructions: callgrind wrote no totals to {out}")
        return totals[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("index_dir")
    ap.add_argument("--queries", type=int, default=100, help="how many dev queries (default 100)")
    ap.add_argument("--code", default=os.path.dirname(HERE), help="the checkout whose searchkit runs")
    a = ap.parse_args()
    if not os.path.exists(QUERIES):
        raise SystemExit(f"instructions: needs {QUERIES} (the team's shared data)")
    with open(QUERIES, encoding="utf-8") as f:
        n = min(a.queries, sum("\t" in line for line in f))
    total = count(os.path.abspath(a.index_dir), n, os.path.abspath(a.code))
    print(f"{total / n / 1e6:.2f} M instructions a query ({total:,} for {n} warm queries with 10 snippets, {a.code})")


if __name__ == "__main__":
    main()
