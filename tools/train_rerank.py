"""Fit searchkit's reranker (``data/rerank.json``) on the train judgments.

    pip install -e '.[train]'
    searchkit index ../shared/corpus/corpus.jsonl --index-dir /tmp/rel-ix --rebuild
    python tools/train_rerank.py --corpus ../shared/corpus --index-dir /tmp/rel-ix \\
        --out searchkit/data/rerank.json --translations searchkit/data/translations.txt

For every judged train query, the first-stage ranking's best ``--window``
full matches (with the shipped ``data/ranking.json`` weights) become rows of
:data:`searchkit.rerank.FEATURES`, labelled with their graded judgment (0
when unjudged).  LightGBM's lambdarank fits shallow trees on those rows; the
trees are written as arrays that searchkit walks in NumPy, so searching
needs no LightGBM.  The :data:`~searchkit.lifts.LIFTED` features
(``translated``, ``added_down``, ``added_up``, ``lacked``) read a table mined from
the same judgments (``translations.py``), so it is cross-fitted: each
train row's value comes from a table mined from the other folds (in the
cross-validation, from the folds other than its own and the held-out one),
the held-out fold and dev are searched with a table of the folds fitted
on, and the shipped table is mined from all of train.  Reported beside the
fit, measured by ``searchkit eval``'s own code through the real search:
5-fold cross-validation on train (folds as in ``train_ranking.py``, each
scored by a model fitted on the other four) and the dev split, which the
fit never reads.  Deterministic: the same corpus, code and weights give the
same files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from searchkit import SearchIndex
from searchkit.evaluate import evaluate
from searchkit.lifts import Translations, lifted
from searchkit.rerank import (FEATURES, LIFTED_COLUMNS, Reranker, Trees, features, headline, held_idf, query_profile,
                              window_chars)
from train_ranking import FOLDS, fold, load, sample
from translations import mine, write

PARAMS = dict(objective="lambdarank", learning_rate=0.15, num_leaves=4, max_depth=2, min_data_in_leaf=50,
              feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, lambdarank_truncation_level=20,
              deterministic=True, force_row_wise=True, num_threads=1, seed=1, verbose=-1)
ROUNDS = 150
ALWAYS_LEFT = 1e300  # the threshold of a padding split: no feature is above it
WINDOW = 20


class Recorder(Reranker):
    """A reranker that keeps the first-stage order and records the feature
    rows (:data:`LIFTED` through an empty table), documents, query profile
    and headlines of its last window."""

    def predict(self, postings, clauses, docs, scores):
        self.profile = query_profile(postings, clauses)
        self.heads = [headline(postings, d) for d in docs.tolist()]
        self.rows = features(self.profile, self.heads, scores.astype(np.float64), self.table)
        self.ids = [postings.stored(int(d))["id"] for d in docs.tolist()]
        return -np.arange(docs.size, dtype=np.float64)


def dataset(ix: SearchIndex, items, qrels) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Feature rows, labels and group sizes of each query's window, and the
    windows themselves: (query profile, headlines) of each query."""
    rows, labels, groups, windows = [], [], [], []
    recorder = ix.reranker = Recorder(None, WINDOW, Translations({}))
    for qid, text in items:
        recorder.rows, recorder.ids, recorder.profile, recorder.heads = np.zeros((0, len(FEATURES))), [], None, []
        ix.search(text, limit=WINDOW, snippets=False, suggest=False)
        rows.append(recorder.rows)
        labels += [qrels.get(qid, {}).get(d, 0) for d in recorder.ids]
        groups.append(len(recorder.ids))
        windows.append((recorder.profile, recorder.heads))
    return np.vstack(rows), np.array(labels), np.array(groups), windows


class CrossFit:
    """Translation tables mined from all train folds but some, each once,
    and train rows whose :data:`LIFTED` features are read through such tables."""

    def __init__(self, x, y, groups, windows, folds):
        self.x, self.windows, self.folds = x, windows, folds
        self.starts = np.cumsum(groups) - groups
        self.labels = [y[s:s + g] > 0 for s, g in zip(self.starts, groups)]
        self.tables: dict[frozenset, Translations] = {}

    def table(self, *without: int) -> Translations:
        key = frozenset(f for f in without if f is not None)
        if key not in self.tables:
            self.tables[key] = mine((w[0].chars, [(h.text, bool(r)) for h, r in zip(w[1], rel)])
                                    for w, rel, f in zip(self.windows, self.labels, self.folds)
                                    if w[0] is not None and f not in key)
        return self.tables[key]

    def rows(self, held_out: int | None = None) -> np.ndarray:
        """The train rows, each fold's :data:`LIFTED` features read through a
        table mined from neither it nor ``held_out``."""
        x = self.x.copy()
        for (profile, heads), start, f in zip(self.windows, self.starts, self.folds):
            if heads and f != held_out:
                chars = window_chars(heads)
                x[start:start + len(heads), LIFTED_COLUMNS] = lifted(profile, chars, self.table(f, held_out),
                                                                     held_idf(profile, chars))
        return x


def trees(booster) -> dict:
    """The booster's trees as complete heap-ordered trees of depth
    ``max_depth`` (see searchkit.rerank.Trees): a leaf above that depth
    becomes a split that always goes left, its value copied to every leaf
    below it."""
    depth = int(PARAMS["max_depth"])
    inner = 2 ** depth - 1
    feature, threshold, value = [], [], []
    for info in booster.dump_model()["tree_info"]:
        f, t, v = [0] * inner, [ALWAYS_LEFT] * inner, [0.0] * (inner + 1)

        def fill(node: dict, at: int, level: int) -> None:
            if level == depth:
                v[at - inner] = node["leaf_value"]
                return
            if "leaf_value" not in node:
                if node["decision_type"] != "<=":
                    raise ValueError(f"unexpected split {node['decision_type']}")
                f[at], t[at] = node["split_feature"], node["threshold"]
            fill(node.get("left_child", node), 2 * at + 1, level + 1)
            fill(node.get("right_child", node), 2 * at + 2, level + 1)

        fill(info["tree_structure"], 0, 0)
        feature.append(f)
        threshold.append(t)
        value.append(v)
    return {"depth": depth, "feature": feature, "threshold": threshold, "value": value}


def fit(x, y, groups, translations: Translations) -> tuple[Reranker, dict]:
    import lightgbm

    booster = lightgbm.train(PARAMS, lightgbm.Dataset(x, y, group=groups), ROUNDS)
    table = trees(booster)
    model = Trees(table)
    if not np.allclose(model.predict(x), booster.predict(x)):  # NumPy must walk the trees as LightGBM does
        raise AssertionError("the exported trees disagree with LightGBM's predictions")
    return Reranker(model, WINDOW, translations), table


def scores(ix: SearchIndex, reranker: Reranker | None, items, qrels) -> np.ndarray:
    ix.reranker = reranker
    report = evaluate(ix, dict(items), qrels)
    return np.array([(s.ndcg10, s.mrr10, s.recall100) for s in report.per_query])


def summary(m: np.ndarray) -> str:
    return "nDCG@10 {:.4f}  MRR@10 {:.4f}  R@100 {:.4f}".format(*m.mean(axis=0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="folder with queries_/qrels_ train and dev files")
    ap.add_argument("--index-dir", required=True, help="an index of the corpus's corpus.jsonl")
    ap.add_argument("--out", help="write the fitted model here (JSON)")
    ap.add_argument("--translations", help="write the translation table mined from all of train here "
                                           "(default with --out: translations.txt beside it, which the model reads)")
    ap.add_argument("--sample", type=int, help="fit on this many train queries (a fixed random sample; default all)")
    ap.add_argument("--no-cv", action="store_true", help="skip the 5-fold cross-validation")
    ap.add_argument("--seed", type=int, default=1, help="LightGBM's seed (bagging, feature sampling)")
    args = ap.parse_args(argv)
    table_out = args.translations or (os.path.join(os.path.dirname(os.path.abspath(args.out)), "translations.txt")
                                      if args.out else None)
    for path in (args.out, table_out):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            ap.error(f"no directory to write {path} in")  # said before the fit, not after it
    PARAMS["seed"] = args.seed
    sys.stdout.reconfigure(line_buffering=True)
    train, train_qrels = load(args.corpus, "train")
    if args.sample:
        train = sample(train, args.sample, seed=FOLDS)
    dev, dev_qrels = load(args.corpus, "dev")
    t0 = time.time()
    report: dict[str, list[float]] = {}
    with SearchIndex.open(args.index_dir, rerank=False) as ix:
        x, y, groups, windows = dataset(ix, train, train_qrels)
        print(f"train {len(train)} queries, {len(y)} rows of {len(FEATURES)} features ({time.time() - t0:.0f} s)")
        report["dev_before"] = scores(ix, None, dev, dev_qrels).mean(axis=0).tolist()
        folds = np.array([fold(q) for q, _ in train])
        cross = CrossFit(x, y, groups, windows, folds)
        if not args.no_cv:
            row_folds = np.repeat(folds, groups)
            before = scores(ix, None, train, train_qrels)
            after = np.zeros_like(before)
            for k in range(FOLDS):
                xk = cross.rows(held_out=k)
                model, _ = fit(xk[row_folds != k], y[row_folds != k], groups[folds != k], cross.table(k))
                held_out = [it for it, f in zip(train, folds) if f == k]
                after[folds == k] = scores(ix, model, held_out, train_qrels)
                print(f"fold {k}: before {summary(before[folds == k])}\n        after  {summary(after[folds == k])}")
            report["cv_before"] = before.mean(axis=0).tolist()
            report["cv_after"] = after.mean(axis=0).tolist()
        shipped = cross.table()
        model, table = fit(cross.rows(), y, groups, shipped)
        report["dev_after"] = scores(ix, model, dev, dev_qrels).mean(axis=0).tolist()
    for key, value in report.items():
        print(f"{key:12s} " + "  ".join(f"{v:.4f}" for v in value))
    print(f"({time.time() - t0:.0f} s)")
    if table_out:
        write(shipped, table_out)
    if args.out:
        doc = {"about": "searchkit's reranker, fitted on the KUAKE-QTR train split by tools/train_rerank.py "
                        "(see README, Relevance); metrics are [nDCG@10, MRR@10, Recall@100]",
               "features": list(FEATURES), "window": WINDOW, "trees": table,
               "metrics": {k: [round(v, 4) for v in vs] for k, vs in report.items()}}
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
