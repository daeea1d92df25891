#!/usr/bin/env python3
"""Whoosh's own searcher on a searchkit index, over the dev queries.

    python benchmarks/whoosh_api.py /tmp/b30/searchkit-index [--json]

The index is read with ``whoosh.index.open_dir`` (the text postings through
searchkit's codec), each query parsed with ``MultifieldParser(["title",
"body"], schema, group=OrGroup)`` and run with ``searcher.search(q,
limit=10)``: Whoosh's BM25F on our postings, not searchkit's ranking.  Every
query runs once to warm up (posting lists read, caches filled), then a
second pass is timed: parse + search per query, and search alone on the
already parsed queries.  INDEX may be a searchkit index directory (the
generation named in its CURRENT file is used) or a ``gen-*`` directory.

Queries Whoosh refuses (a quoted query parses to a Phrase, and the text
fields keep no positions) are counted under "errors" and left out of the
timings.  Whoosh runs slowly on these postings (seconds per query at 30,000
documents), so ``--max-queries N`` times only the first N queries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SEARCHKIT_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))


def generation_dir(path: str) -> str:
    """The current generation of a searchkit index, or path itself."""
    current = os.path.join(path, "CURRENT")
    if not os.path.exists(current):
        return path
    with open(current, encoding="utf-8") as f:
        text = f.read().strip()
    try:
        name = json.loads(text)["current"]
    except (ValueError, TypeError, KeyError):
        name = text  # a bare directory name
    return os.path.join(path, name)


def pct(values: list[float], p: float) -> float:
    """The same nearest-rank percentile as bench.py."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(times: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "p99_ms": pct(times, 99),
            "mean_ms": statistics.fmean(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", help="searchkit index directory, or one of its gen-* directories")
    ap.add_argument("--queries", default=os.path.join(SHARED, "corpus", "queries_dev.tsv"),
                    help="qid<TAB>text per line (default: ../shared/corpus/queries_dev.tsv)")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--max-queries", type=int, help="only the first N queries")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import searchkit.codec  # noqa: F401  (the codec the segments name; unpickling would import it too)
    from whoosh.index import open_dir
    from whoosh.qparser import MultifieldParser, OrGroup
    from whoosh.query.qcore import QueryError

    with open(a.queries, encoding="utf-8") as f:
        queries = [line.split("\t", 1)[1].strip() for line in f if "\t" in line]
    if a.max_queries:
        queries = queries[:a.max_queries]

    gen = generation_dir(a.index)
    start = time.perf_counter()
    ix = open_dir(gen)
    searcher = ix.searcher()
    parser = MultifieldParser(["title", "body"], ix.schema, group=OrGroup)
    open_ms = (time.perf_counter() - start) * 1000

    def run(q: str) -> int:
        return len(searcher.search(parser.parse(q), limit=a.limit))

    errors: dict[str, str] = {}
    warm_start = time.perf_counter()
    for q in queries:  # warm-up pass, not timed per query
        try:
            run(q)
        except QueryError as e:
            errors[q] = str(e).split(".")[0]
    warmup_s = time.perf_counter() - warm_start
    queries = [q for q in queries if q not in errors]

    times, hits = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits.append(run(q))
        times.append((time.perf_counter() - t0) * 1000)

    parsed = [parser.parse(q) for q in queries]
    search_times = []
    for q in parsed:
        t0 = time.perf_counter()
        searcher.search(q, limit=a.limit)
        search_times.append((time.perf_counter() - t0) * 1000)
    searcher.close()

    out = {"index": gen, "docs": ix.doc_count(), "queries timed": len(queries), "open_ms": round(open_ms, 1),
           "warmup_pass_s": round(warmup_s, 2), "parse+search": summary(times),
           "search only": summary(search_times), "zero-hit queries": sum(h == 0 for h in hits), "errors": errors}
    if a.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    print(f"{out['docs']} docs, {len(queries)} queries timed, {gen}")
    print(f"open {out['open_ms']} ms, warm-up pass {out['warmup_pass_s']} s")
    for kind in ("parse+search", "search only"):
        s = out[kind]
        print(f"  {kind:13s} p50 {s['p50_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms  p99 {s['p99_ms']:.2f} ms")
    print(f"  queries with no hit: {out['zero-hit queries']}")
    for q, e in errors.items():
        print(f"  refused: {q}: {e}")


if __name__ == "__main__":
    sys.exit(main())
