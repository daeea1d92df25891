#!/usr/bin/env python3
"""This checkout's search against an older revision's, in one process, query
by query: the fairest wall-clock comparison a noisy machine allows.

    python benchmarks/versus.py INDEX_DIR REV [--passes 3] [--queries N] [--no-snippets]

Exports the ``searchkit`` package at git revision REV under another name,
opens INDEX_DIR with both versions, warms both on the queries of
../shared/corpus/queries_dev.tsv (and says how many queries' top 10, ids and
scores, differ), then runs every query with each version back to back (which
goes first alternates), ``--passes`` times over.  A swing in the machine's
speed (here a fixed loop's time moves by half within a minute) then slows
both sides of a pair alike, where two runs of ``bench.py`` minutes apart see
different machines.  Prints each version's p50 per pass, the p50 and p95 of
each query's fastest run, and the median over the queries of new / old.

Whoosh reads the index through the codec the index names, this checkout's:
the old package is given this checkout's codec modules (:data:`SHARED`) too,
so that both sides read the posting files alike, and what is compared is
everything above them (a note says when REV's codec modules differ).  The old
package reads its own ``data/``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERIES = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "queries_dev.tsv")
OLD = "searchkit_versus_old"
SHARED = ("codec", "perdoc", "postings", "matching")  # what Whoosh loads for the index, shared by both sides


def load_old(rev: str, into: str):
    """The package at ``rev``, importable as :data:`OLD`; its data files read
    from its own copy (``resources.files(__package__)``)."""
    try:
        archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "searchkit"], check=True,
                                 capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"versus: cannot export searchkit at {rev!r}: {e.stderr.decode().strip()}") from None
    codec_files = [f"searchkit/{m}.py" for m in SHARED]
    if subprocess.run(["git", "-C", ROOT, "diff", "--quiet", rev, "--", *codec_files]).returncode:
        print(f"versus: note: {rev}'s codec modules differ from this checkout's; both sides read the index "
              "through this checkout's")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # git's own archive
    package = os.path.join(into, OLD)
    os.rename(os.path.join(into, "searchkit"), package)
    for name in os.listdir(package):
        if name.endswith(".py"):
            path = os.path.join(package, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace('resources.files("searchkit")', "resources.files(__package__)"))
    for name in SHARED:
        sys.modules[f"{OLD}.{name}"] = importlib.import_module(f"searchkit.{name}")
    spec = importlib.util.spec_from_file_location(OLD, os.path.join(package, "__init__.py"),
                                                  submodule_search_locations=[package])
    module = importlib.util.module_from_spec(spec)
    sys.modules[OLD] = module
    try:
        spec.loader.exec_module(module)
        return importlib.import_module(OLD + ".search")
    except ImportError as e:
        raise SystemExit(f"versus: searchkit at {rev} cannot run on this checkout's codec modules ({e})") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index_dir")
    ap.add_argument("rev", help="the older revision (a commit, tag or branch)")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--queries", type=int, default=0, help="the first N dev queries (default: all)")
    ap.add_argument("--no-snippets", action="store_true")
    a = ap.parse_args()
    if a.passes < 1:
        raise SystemExit("versus: --passes must be at least 1")
    if not os.path.exists(QUERIES):
        raise SystemExit(f"versus: needs {QUERIES} (the team's shared data)")
    with open(QUERIES, encoding="utf-8") as f:
        queries = [line.split("\t", 1)[1].strip() for line in f if "\t" in line]
    queries = queries[:a.queries] if a.queries else queries
    snippets = not a.no_snippets
    sys.path.insert(0, ROOT)
    from bench import pct
    from searchkit.search import SearchIndex

    with tempfile.TemporaryDirectory(prefix="searchkit-versus-") as tmp:
        old = load_old(a.rev, tmp)
        sides = {"old": old.SearchIndex.open(a.index_dir), "new": SearchIndex.open(a.index_dir)}
        top = {k: [[(h.id, round(h.score, 4)) for h in ix.search(q, limit=10, snippets=snippets).hits]
                   for q in queries] for k, ix in sides.items()}
        times: dict[str, list[list[float]]] = {k: [[] for _ in queries] for k in sides}
        for p in range(a.passes):
            for i, q in enumerate(queries):
                for k in (("old", "new") if (i + p) % 2 == 0 else ("new", "old")):
                    start = time.perf_counter()
                    sides[k].search(q, limit=10, snippets=snippets)
                    times[k][i].append((time.perf_counter() - start) * 1000)
        for ix in sides.values():
            ix.close()
    what = "search + 10 snippets" if snippets else "search"
    print(f"{what}, {len(queries)} queries, {a.passes} passes, old = {a.rev}, new = this checkout")
    differ = sum(o != n for o, n in zip(top["old"], top["new"]))
    print(f"  results: the top 10 (ids, scores to 4 decimals) differ for {differ} of {len(queries)} queries")
    for k in ("old", "new"):
        each = ", ".join(f"{pct([t[p] for t in times[k]], 50):.2f}" for p in range(a.passes))
        fastest = [min(t) for t in times[k]]
        print(f"  {k}: p50 per pass {each} ms; each query's fastest: p50 {pct(fastest, 50):.2f} ms, "
              f"p95 {pct(fastest, 95):.2f} ms, mean {statistics.fmean(fastest):.2f} ms")
    ratios = [min(n) / min(o) for n, o in zip(times["new"], times["old"])]
    print(f"  new / old, median over the queries: {statistics.median(ratios):.3f} "
          f"({sum(r < 1 for r in ratios)} of {len(ratios)} queries faster)")


if __name__ == "__main__":
    main()
