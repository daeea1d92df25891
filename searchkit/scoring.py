"""Vectorized BM25 over Whoosh's postings.

Whoosh's matcher trees cost a few microseconds of Python per posting and
per sub-matcher; a Chinese query expands to dozens of word and character
terms, which made a query take hundreds of milliseconds.  Here each term's
posting list is decoded once into NumPy arrays (kept in an LRU cache) and
scores are accumulated a whole posting list at a time.  Whoosh still owns
the files, the term dictionary, deletions and phrase matching.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.float32))


def _leaf_postings(reader, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
    if (fieldname, text) not in reader:
        return _EMPTY
    m = reader.postings(fieldname, text)
    # Deleted documents are masked out by the caller (Postings.live), so read
    # the raw postings under Whoosh's deletion filter.
    from whoosh.matching.wrappers import FilterMatcher

    if isinstance(m, FilterMatcher):
        m = m.child
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if hasattr(m, "_read_ids") and hasattr(m, "_next_block"):
        # Whoosh 3 codec: decode a block (128 postings) at a time.
        while m.is_active():
            m._read_ids()
            m._read_weights()
            ids.append(np.asarray(m._ids, dtype=np.int32))
            weights.append(np.asarray(m._weights, dtype=np.float32))
            m._next_block()
    else:  # any other codec: one posting at a time
        pairs = []
        while m.is_active():
            pairs.append((m.id(), m.weight()))
            m.next()
        if pairs:
            ids.append(np.array([p[0] for p in pairs], np.int32))
            weights.append(np.array([p[1] for p in pairs], np.float32))
    if not ids:
        return _EMPTY
    return np.concatenate(ids), np.concatenate(weights)


class Postings:
    """Per-term posting arrays and per-field length arrays of one searcher
    (all its segments, docnums global)."""

    def __init__(self, searcher, cache_terms: int = 50_000):
        self.searcher = searcher
        self.leaves = [(s.reader(), offset) for s, offset in searcher.leaf_searchers()]
        self.n = searcher.doc_count_all()
        self.live = np.ones(self.n, dtype=bool)
        for reader, offset in self.leaves:
            if reader.has_deletions():
                alive = np.zeros(reader.doc_count_all(), dtype=bool)
                alive[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
                self.live[offset:offset + alive.size] = alive
        self.doc_count = int(self.live.sum())
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_terms = cache_terms

    def lengths(self, fieldname: str) -> np.ndarray:
        arr = self._lengths.get(fieldname)
        if arr is None:
            from whoosh.util.numeric import byte_to_length

            table = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)
            parts = []
            for reader, _ in self.leaves:
                parts.append(table[_length_bytes(reader, fieldname)])
            arr = np.concatenate(parts) if parts else np.zeros(0, np.float32)
            self._lengths[fieldname] = arr
            live = arr[self.live]
            self._avg[fieldname] = float(live.mean()) if live.size and live.mean() > 0 else 1.0
        return arr

    def average_length(self, fieldname: str) -> float:
        self.lengths(fieldname)
        return self._avg[fieldname]

    def get(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        key = (fieldname, text)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        parts = [(ids + offset, w) for reader, offset in self.leaves
                 for ids, w in [_leaf_postings(reader, fieldname, text)] if ids.size]
        if not parts:
            value = _EMPTY
        elif len(parts) == 1:
            value = parts[0]
        else:
            value = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        self._cache[key] = value
        if len(self._cache) > self._cache_terms:
            self._cache.popitem(last=False)
        return value

    def docs(self, fieldname: str, text: str) -> np.ndarray:
        return self.get(fieldname, text)[0]

    def saturated(self, fieldname: str, text: str, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """Docs and the length-normalized, saturated term frequency
        tf*(k1+1) / (tf + k1*(1-b+b*len/avg)): BM25 without the idf,
        cached because it depends only on the term and the parameters."""
        key = (fieldname, text, k1, b)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        docs, tf = self.get(fieldname, text)
        if docs.size:
            norm = self.lengths(fieldname)[docs] * (b / self.average_length(fieldname)) + (1.0 - b)
            value = (docs, (tf * (k1 + 1.0) / (tf + k1 * norm)).astype(np.float32))
        else:
            value = (docs, tf)
        self._cache[key] = value
        if len(self._cache) > self._cache_terms:
            self._cache.popitem(last=False)
        return value


def _length_bytes(reader, fieldname: str) -> np.ndarray:
    """The quantized length byte of every document in one segment."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN
    from whoosh.util.numeric import length_to_byte

    n = reader.doc_count_all()
    perdoc = getattr(reader, "_perdoc", None)
    col = perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN) if hasattr(perdoc, "_cached_reader") else None
    if col is not None:  # Whoosh 3 codec: read the length column directly
        return np.frombuffer(bytes(col[i] for i in range(n)), dtype=np.uint8)
    return np.array([length_to_byte(reader.doc_field_length(i, fieldname) or 0) for i in range(n)], dtype=np.uint8)


def bm25(postings: Postings, terms: list[tuple[str, str, float]], k1: float,
         b_of: dict[str, float], default_b: float) -> np.ndarray:
    """Sum over (field, term, weight) of weight * BM25(term in field)."""
    scores = np.zeros(postings.n, dtype=np.float32)
    n_docs = max(postings.doc_count, 1)
    for fieldname, text, weight in terms:
        docs, part = postings.saturated(fieldname, text, k1, b_of.get(fieldname, default_b))
        if docs.size:
            idf = math.log(1.0 + (n_docs - docs.size + 0.5) / (docs.size + 0.5))
            scores[docs] += part * (weight * idf)
    return scores
