"""Fit searchkit's ranking weights on the train judgments.

    searchkit index ../shared/corpus/corpus.jsonl --index-dir /tmp/rel-ix --rebuild
    python tools/train_ranking.py --corpus ../shared/corpus --index-dir /tmp/rel-ix \\
        --out searchkit/data/ranking.json

Coordinate ascent over the fields of ``searchkit.Ranking`` (a line search on
each weight in turn, with shrinking multiplicative steps), maximizing mean
nDCG@10 + MRR@10 of the real ranker on the train queries.  Only weights
survive: nothing about a particular query or document is kept.

Reported beside the fit: 5-fold cross-validation on train (folds fixed by a
hash of the qid; each fold scored by weights fitted on the other four) and the
dev split, which the fit never reads.  Deterministic: the same corpus, code and
synonyms give the same file.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import sys
import time

import numpy as np

from searchkit import Ranking, SearchIndex
from searchkit.evaluate import evaluate, read_qrels, read_queries

# Where the fit starts: the weights hand-tuned on dev before any training, so
# that a run does not depend on what ranking.json held before it.
START = dict(title=2.0, headings=1.0, body=0.5, bigram=0.8, unigram=1.8, title_chars=1.5, stopword=0.4,
             synonym=0.35, coverage=0.5, focus=0.05, k1=1.2, b=0.9, title_b=0.5)
# The KUAKE-QTR documents are untitled page titles with no headings: the
# title and heading weights have nothing to learn from and keep START's values.
TRAINED = ("body", "bigram", "unigram", "stopword", "synonym", "coverage", "focus", "k1", "b")
UNIT = ("b", "title_b")  # shares, at most 1
STEPS = (1.6, 1.25)  # multiplicative line-search steps, coarse to fine
FOLDS = 5

Split = tuple[list[tuple[str, str]], dict[str, dict[str, int]]]


def load(corpus: str, split: str) -> Split:
    """(qid, text) of the judged queries of a split (those with a relevant
    document), and their judgments."""
    queries = read_queries(os.path.join(corpus, f"queries_{split}.tsv"))
    qrels = read_qrels(os.path.join(corpus, f"qrels_{split}.tsv"))
    items = [(q, t) for q, t in sorted(queries.items()) if any(r > 0 for r in qrels.get(q, {}).values())]
    return items, qrels


def fold(qid: str) -> int:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % FOLDS


def per_query(ix: SearchIndex, ranking: Ranking, items: list[tuple[str, str]],
              qrels: dict[str, dict[str, int]], depth: int = 100) -> np.ndarray:
    """nDCG@10, MRR@10 and Recall@100 (of the first ``depth`` results) of
    each query (rows, in the order of ``items``) under ``ranking``."""
    ix.ranking = ranking
    report = evaluate(ix, dict(items), qrels, depth)
    return np.array([(s.ndcg10, s.mrr10, s.recall100) for s in report.per_query])


def objective(ix: SearchIndex, ranking: Ranking, items, qrels) -> float:
    m = per_query(ix, ranking, items, qrels, depth=10)
    return float(m[:, 0].mean() + m[:, 1].mean())


def fit(ix: SearchIndex, items, qrels, start: Ranking) -> Ranking:
    """Coordinate ascent from ``start``: for each step size, move each
    trained weight up or down by that factor while the objective improves."""
    best, best_score = start, objective(ix, start, items, qrels)
    for step in STEPS:
        improved = True
        while improved:
            improved = False
            for name in TRAINED:
                for factor in (step, 1 / step):
                    while True:
                        value = getattr(best, name) * factor
                        if name in UNIT:
                            value = min(value, 1.0)
                        if value == getattr(best, name):
                            break
                        candidate = dataclasses.replace(best, **{name: round(value, 4)})
                        score = objective(ix, candidate, items, qrels)
                        if score <= best_score + 1e-5:
                            break
                        best, best_score, improved = candidate, score, True
                        print(f"    {name}={getattr(best, name):g}  objective {best_score:.4f}")
    return best


def summary(m: np.ndarray) -> str:
    return "nDCG@10 {:.4f}  MRR@10 {:.4f}  R@100 {:.4f}".format(*m.mean(axis=0))


def sample(items, n: int, seed: int):
    return items if len(items) <= n else sorted(random.Random(seed).sample(items, n))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="folder with queries_/qrels_ train and dev files")
    ap.add_argument("--index-dir", required=True, help="an index of the corpus's corpus.jsonl")
    ap.add_argument("--out", help="write the fitted weights here (JSON)")
    ap.add_argument("--sample", type=int, default=800,
                    help="fit on this many train queries (a fixed random sample; default 800)")
    ap.add_argument("--no-cv", action="store_true", help="skip the 5-fold cross-validation")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also in a log file
    train, train_qrels = load(args.corpus, "train")
    dev, dev_qrels = load(args.corpus, "dev")
    start = Ranking(**START)
    t0 = time.time()
    with SearchIndex.open(args.index_dir, rerank=False) as ix:  # the first stage alone: the reranker sits on it
        report: dict[str, list[float]] = {}
        print(f"train {len(train)} queries, dev {len(dev)}; fitting {', '.join(TRAINED)}")
        report["dev_before"] = per_query(ix, start, dev, dev_qrels).mean(axis=0).tolist()
        if not args.no_cv:
            before_train = per_query(ix, start, train, train_qrels)
            folds = np.array([fold(q) for q, _ in train])
            held_out = np.zeros_like(before_train)
            for k in range(FOLDS):
                rest = [it for it, f in zip(train, folds) if f != k]
                print(f"fold {k}: fitting on {min(len(rest), args.sample)} of {len(rest)} queries")
                fitted = fit(ix, sample(rest, args.sample, seed=k), train_qrels, start)
                mine = [it for it, f in zip(train, folds) if f == k]
                held_out[folds == k] = per_query(ix, fitted, mine, train_qrels)
                print(f"fold {k} held out: before {summary(before_train[folds == k])}"
                      f"\n              after  {summary(held_out[folds == k])}")
            report["cv_before"] = before_train.mean(axis=0).tolist()
            report["cv_after"] = held_out.mean(axis=0).tolist()
            report["cv_folds_ndcg_before"] = [float(before_train[folds == k, 0].mean()) for k in range(FOLDS)]
            report["cv_folds_ndcg_after"] = [float(held_out[folds == k, 0].mean()) for k in range(FOLDS)]
        print(f"final fit on {min(len(train), args.sample)} of {len(train)} train queries")
        final = fit(ix, sample(train, args.sample, seed=FOLDS), train_qrels, start)
        report["dev_after"] = per_query(ix, final, dev, dev_qrels).mean(axis=0).tolist()
    print(f"weights: {final}")
    for key, value in report.items():
        print(f"{key:22s} " + "  ".join(f"{v:.4f}" for v in value))
    print(f"({time.time() - t0:.0f} s)")
    if args.out:
        doc = {"about": "searchkit.Ranking defaults, fitted on the KUAKE-QTR train split by "
                        "tools/train_ranking.py (see README, Relevance); metrics are "
                        "[nDCG@10, MRR@10, Recall@100]",
               "weights": dataclasses.asdict(final),
               "metrics": {k: [round(v, 4) for v in vs] for k, vs in report.items()}}
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
