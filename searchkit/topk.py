"""Choosing from score vectors over every document: the best k of a pool,
and which documents are in a sorted list.  Shared by every stage that
ranks (focus, the reranker's window, the page of results)."""

from __future__ import annotations

import numpy as np


def best(scores: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` documents of ``pool`` (a mask) with the highest scores,
    best first, ties to the lower document number.  Selecting among all
    candidates (often every document) costs less from a threshold: the k-th
    best of every 8th document is at most the k-th best of all, and few
    documents reach it."""
    sample = scores[::8][pool[::8]]
    if sample.size > k:
        docs = np.flatnonzero(scores >= np.partition(sample, sample.size - k)[sample.size - k])
        docs = docs[pool[docs]]
    else:
        docs = np.flatnonzero(pool)
    values = scores[docs]
    if docs.size > k:  # those above the k-th best score, and the first of those at it
        kth = np.partition(values, docs.size - k)[docs.size - k]
        pick = np.flatnonzero(values >= kth)
        if pick.size > k:  # ties at the k-th
            above = values > kth
            pick = np.concatenate([np.flatnonzero(above),
                                   np.flatnonzero(values == kth)[:k - int(np.count_nonzero(above))]])
        docs, values = docs[pick], values[pick]
    return docs[np.lexsort((docs, -values))]


def holding(docs: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Which of ``docs`` are in ``among`` (ascending), as a mask."""
    if not among.size:
        return np.zeros(docs.size, dtype=bool)
    return among[np.minimum(np.searchsorted(among, docs), among.size - 1)] == docs
