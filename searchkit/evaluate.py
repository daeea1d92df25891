"""Relevance measurement on TREC-style judgments (``searchkit eval``).

QUERIES: ``qid<TAB>text``; QRELS: ``qid<TAB>docid<TAB>relevance``
(relevance > 0 is relevant; graded gain 2^rel - 1).  Doc ids are the ids of
the indexed JSONL records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import SearchkitError, UsageError
from .search import SearchIndex


@dataclass
class QueryScore:
    qid: str
    query: str
    ndcg10: float
    mrr10: float
    recall100: float


@dataclass
class EvalReport:
    ndcg10: float
    mrr10: float
    recall100: float
    queries: int
    per_query: list[QueryScore]
    judged: int = 0  # distinct judged-relevant ids of the scored queries
    missing: int = 0  # how many of them the index does not hold


# Above this share of judged ids absent from the index, the scores measure
# the wrong index (or the wrong qrels), not the ranking: refuse.
MAX_MISSING_SHARE = 0.5


def _read_tsv(path: str, columns: int) -> list[tuple[int, list[str]]]:
    """(line number, columns) of each non-empty line."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) < columns:
                    raise UsageError(f"{path}:{n}: expected {columns} tab-separated columns")
                rows.append((n, parts))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    return rows


def read_queries(path: str) -> dict[str, str]:
    return {row[0]: row[1] for _, row in _read_tsv(path, 2)}


def read_qrels(path: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for n, row in _read_tsv(path, 3):
        try:
            rel = int(row[-1])
        except ValueError:
            raise UsageError(f"{path}:{n}: relevance must be an integer, not {row[-1]!r}") from None
        qrels.setdefault(row[0], {})[row[-2]] = rel
    return qrels


def ndcg(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** judged.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mrr(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def recall(ranked: list[str], judged: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in judged.items() if r > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def evaluate(index: SearchIndex, queries: dict[str, str], qrels: dict[str, dict[str, int]],
             depth: int = 100) -> EvalReport:
    """Scores over the queries that have at least one relevant judgment.
    ``depth`` is how many results each query fetches: a fit that needs only
    the top 10 (nDCG@10, MRR@10) runs faster with 10, and Recall@100 then
    counts only those.

    Raises UsageError when most judged-relevant ids are not in the index: a
    score of 0 there says the index was built from other data, not that
    the ranking is bad."""
    relevant = sorted({d for qid in queries for d, r in qrels.get(qid, {}).items() if r > 0})
    missing = sum(index.get(d) is None for d in relevant)
    if relevant and missing > MAX_MISSING_SHARE * len(relevant):
        raise UsageError(f"{missing} of the {len(relevant)} judged-relevant ids in QRELS are not in the index "
                         f"at {index.index_dir}: was it built from the judged corpus?")
    scores = []
    for qid, text in queries.items():
        judged = qrels.get(qid, {})
        if not any(r > 0 for r in judged.values()):
            continue
        try:
            # The query's own ranking: no snippets, and no did-you-mean followed in its place.
            ranked = [h.id for h in index.search(text, limit=depth, snippets=False, suggest=False)]
        except SearchkitError:
            ranked = []  # an unreadable query scores zero rather than stopping the run
        scores.append(QueryScore(qid, text, ndcg(ranked, judged), mrr(ranked, judged), recall(ranked, judged)))
    n = len(scores)
    if not n:
        raise UsageError("no query in QUERIES has a relevant judgment in QRELS (do the qids match?)")
    return EvalReport(
        ndcg10=sum(s.ndcg10 for s in scores) / n,
        mrr10=sum(s.mrr10 for s in scores) / n,
        recall100=sum(s.recall100 for s in scores) / n,
        queries=n,
        per_query=scores,
        judged=len(relevant),
        missing=missing,
    )
