"""Vectorized BM25 over the index's posting lists.

Whoosh's matcher trees cost a few microseconds of Python per posting and
per sub-matcher; a Chinese query expands to dozens of word and character
terms, which made a query take hundreds of milliseconds.  Here each term's
posting list is read once as NumPy arrays (kept in an LRU cache) and scores
are accumulated a whole posting list at a time.  Text fields are read
from the codec's memory-mapped arrays (:mod:`searchkit.codec`), zero-copy;
the few id-like fields, deletions and stored fields from Whoosh.

One :class:`Postings` serves many threads: its arrays are read-only, its
caches are changed under a lock (and read without one where the GIL makes
each dict call atomic), and every call into Whoosh's readers (whose files
are shared, seek-then-read objects) goes through another, held only for
those calls.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from .analysis import char_tokens, is_han
from .codec import TextTermsReader
from .postings import Part, encode
from .schema import TEXT_FIELDS
from .text import Normalized, normalize

_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.float32))
HEADLINE_CHARS = 100  # an untitled record's headline: the start of its body
DENSE_SHARE = 4  # a term in over 1/DENSE_SHARE of the documents is added as a vector
DENSE_BYTES = 128 << 20  # at most this much memory for such vectors (dev queries: ~970 of 1,118 at 30k documents)
CACHE_BYTES = 1 << 30  # at most this much memory for cached posting lists, headlines and the like
ENTRY_BYTES = 1024  # what a cached entry's Python objects count as (a headline's text, dict, tuple)
# Under the GIL each OrderedDict call is atomic, so cache reads skip the lock; a
# free-threaded build (3.13t) takes it for reads too.
_LOCK_FREE_READS = getattr(sys, "_is_gil_enabled", lambda: True)()
Fields = tuple[tuple[str, float, float], ...]  # fields a term is scored in: (name, weight, BM25's b)


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
    (all its segments, docnums global).  Segments written by another codec
    (a plain ``ix.writer()``) are read through Whoosh, more slowly."""

    def __init__(self, searcher, cache_bytes: int | None = None):
        self.searcher = searcher
        self.lock = threading.RLock()  # calls into Whoosh (re-entered while building the vocabulary)
        self._cache_lock = threading.Lock()
        self.leaves = [(s.reader(), offset) for s, offset in searcher.leaf_searchers()]
        self.parts: list[tuple[Part, int]] = []
        self._foreign = []  # (reader, offset) of segments whose text fields Whoosh decodes
        for reader, offset in self.leaves:
            terms = getattr(reader, "_terms", None)
            if isinstance(terms, TextTermsReader):
                self.parts += [(part, offset + part.start) for part in terms.parts]
            elif reader.doc_count_all():
                self._foreign.append((reader, offset))
        self.n = searcher.doc_count_all()
        self.simplified = np.zeros(self.n, dtype=bool)  # a body normalize() may fold simplified=True
        for part, offset in self.parts:
            self.simplified[offset:offset + part.ndocs] = part.simplified()
        self.live = np.ones(self.n, dtype=bool)
        for reader, offset in self.leaves:
            if reader.has_deletions():
                alive = np.zeros(reader.doc_count_all(), dtype=bool)
                alive[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
                self.live[offset:offset + alive.size] = alive
        self.doc_count = int(self.live.sum())
        self._lengths: dict[str, tuple[np.ndarray, float]] = {}
        self._cache: OrderedDict[tuple, tuple[object, int]] = OrderedDict()  # key -> (value, its bytes)
        self._cache_bytes = 0
        self._cache_budget = CACHE_BYTES if cache_bytes is None else cache_bytes  # read now: settable
        self._dense: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._dense_slots = max(1, DENSE_BYTES // (4 * max(self.n, 1)))

    @contextmanager
    def whoosh(self) -> Iterator[None]:
        """Hold the lock for calls into Whoosh's readers.  What such a call
        raises beyond an OSError (struct, zlib, pickle, index errors from a
        truncated file) is a failure to read the index's files, and is
        raised as an OSError saying so."""
        with self.lock:
            try:
                yield
            except OSError:
                raise
            except Exception as e:
                raise OSError(f"Whoosh could not read the index ({e.__class__.__name__}: {e})") from e

    def stored(self, docnum: int) -> dict:
        with self.whoosh():
            return self.searcher.stored_fields(docnum)

    def record(self, docnum: int) -> dict:
        """:meth:`stored`, cached (as Solr's document cache): a result's
        fields are read again whenever it is a result again.  Shared: read it, never change it."""
        key = ("record", docnum)
        hit = self.recall(key)
        return hit if hit is not None else self.remember(key, self.stored(docnum))

    def lengths(self, fieldname: str) -> np.ndarray:
        return self._field_lengths(fieldname)[0]

    def _field_lengths(self, fieldname: str) -> tuple[np.ndarray, float]:
        got = self._lengths.get(fieldname)
        if got is None:
            arr = np.zeros(self.n, dtype=np.float32)
            for part, offset in self.parts:
                arr[offset:offset + part.ndocs] = part.lengths(fieldname)
            with self.whoosh():
                for reader, offset in self._foreign:
                    length = reader.doc_field_length
                    arr[offset:offset + reader.doc_count_all()] = [length(d, fieldname)
                                                                    for d in range(reader.doc_count_all())]
            live = arr[self.live]
            got = self._lengths[fieldname] = (arr, float(live.mean()) if live.size and live.mean() > 0 else 1.0)
        return got

    def average_length(self, fieldname: str) -> float:
        return self._field_lengths(fieldname)[1]

    def recall(self, key: tuple):
        """The value remembered under ``key``, or None."""
        hit = self._read(self._cache, key)
        return None if hit is None else hit[0]

    def _read(self, cache: OrderedDict, key: tuple):
        """``cache[key]`` marked as just used, or None.  Reads, a hundred a
        query, take no lock under the GIL: each OrderedDict call is atomic
        there (a key is a tuple of strings and numbers, hashed and compared
        without Python code), and writes hold the lock.  A key dropped
        between the two calls is simply not moved."""
        if not _LOCK_FREE_READS:
            with self._cache_lock:
                hit = cache.get(key)
                if hit is not None:
                    cache.move_to_end(key)
                return hit
        hit = cache.get(key)
        if hit is not None:
            try:
                cache.move_to_end(key)
            except KeyError:
                pass
        return hit

    def remember(self, key: tuple, value):
        """Cache ``value`` (arrays, or tuples and records holding some)
        within :data:`CACHE_BYTES`, least recently used out first.  Bounded
        by bytes, not entries: a query leaves ~100 entries, mostly small,
        and a count that a run of queries outgrows makes every lookup miss."""
        size = _footprint(value)
        with self._cache_lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._cache_bytes -= old[1]
            self._cache[key] = (value, size)
            self._cache_bytes += size
            while self._cache_bytes > self._cache_budget and len(self._cache) > 1:
                self._cache_bytes -= self._cache.popitem(last=False)[1][1]
        return value

    def get(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        key = (fieldname, text)
        hit = self.recall(key)
        if hit is not None:
            return hit
        if fieldname in TEXT_FIELDS:
            key_bytes = encode(text)
            found = [part.get(fieldname, key_bytes) + (offset,) for part, offset in self.parts]
            leaves = self._foreign
        else:
            found, leaves = [], self.leaves
        if leaves:
            with self.whoosh():
                found += [_leaf_postings(reader, fieldname, text) + (offset,) for reader, offset in leaves]
        # In document order (segments written by another codec may sit between
        # ours): lists stay ascending, which intersections rely on.
        parts = [(ids + offset, w) for ids, w, offset in sorted(found, key=lambda f: f[2]) if ids.size]
        if not parts:
            value = _EMPTY
        elif len(parts) == 1:
            value = parts[0]
        else:
            value = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        if self.doc_count < self.n and value[0].size:
            # Deleted documents leave the lists here, so document
            # frequencies (idf) count only what a search can return.
            alive = self.live[value[0]]
            value = (value[0][alive], value[1][alive])
        return self.remember(key, value)

    def headline(self, docnum: int) -> tuple[str, dict[str, float], float]:
        """A document's headline (its title, or the start of an untitled
        record's body), normalized; its distinct Han characters with their
        idf in that field, and the sum of those.  Cached: the best results of
        one query are often the best of the next."""
        key = ("headline", docnum)
        hit = self.recall(key)
        if hit is not None:
            return hit
        stored = self.stored(docnum)
        fname, folded = ("title_chars" if stored.get("title") else "chars"), normalize(headline_text(stored))
        self.remember(("headline folded", docnum), folded)  # for its highlights
        text = folded.text
        weights = {t: idf(self.doc_count, self.docs(fname, t).size) for t, *_ in char_tokens(text) if is_han(t)}
        return self.remember(key, (text, weights, sum(weights.values())))

    def docs(self, fieldname: str, text: str) -> np.ndarray:
        return self.get(fieldname, text)[0]

    def terms(self, fieldname: str) -> dict[str, int]:
        """Every term of a text field in a live document, with its document
        frequency."""
        df: dict[str, int] = {}
        deletions = self.doc_count < self.n
        for part, offset in self.parts:
            live = self.live[offset:offset + part.ndocs] if deletions else None
            for term, n in part.terms(fieldname, live):
                if n:
                    df[term] = df.get(term, 0) + n
        with self.whoosh():
            for reader, _ in self._foreign:
                for text in reader.lexicon(fieldname):
                    term = text.decode("utf-8", "surrogatepass")
                    df[term] = df.get(term, 0) + reader.doc_frequency(fieldname, text)
        return df

    def saturated(self, fieldname: str, text: str, k1: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        """Docs and the length-normalized, saturated term frequency
        tf*(k1+1) / (tf + k1*(1-b+b*len/avg)): BM25 without the idf."""
        docs, tf = self.get(fieldname, text)
        if not docs.size:
            return docs, tf
        scale = self.lengths(fieldname)[docs] * (b / self.average_length(fieldname)) + (1.0 - b)
        return docs, (tf * (k1 + 1.0) / (tf + k1 * scale)).astype(np.float32)

    def fields_bm25(self, text: str, fields: Fields, k1: float) -> tuple[np.ndarray, np.ndarray]:
        """Docs and the sum over ``fields`` (name, weight, b) of weight *
        BM25(``text`` in the field), cached because it depends only on the
        term and the parameters: a query's term is added once, not once
        per field."""
        key = ("bm25", text, fields, k1)
        hit = self.recall(key)
        if hit is not None:
            return hit
        n_docs = max(self.doc_count, 1)
        found = []
        for fieldname, weight, b in fields:
            docs, part = self.saturated(fieldname, text, k1, b)
            if docs.size:
                found.append((docs, part * np.float32(weight * idf(n_docs, docs.size))))
        if not found:
            return self.remember(key, _EMPTY)
        if len(found) == 1:
            return self.remember(key, found[0])
        if sum(d.size for d, _ in found) * DENSE_SHARE * 4 < self.n:  # few: merged by sorting
            docs, at = np.unique(np.concatenate([d for d, _ in found]), return_inverse=True)
            total = np.bincount(at, weights=np.concatenate([v for _, v in found], dtype=np.float64))
            return self.remember(key, (docs.astype(np.int32), total.astype(np.float32)))
        # Many: summed over every document at once, in the same order (the same sums).
        held, total = np.zeros(self.n, dtype=bool), np.zeros(self.n)
        for docs, values in found:
            held[docs] = True
            total[docs] += values
        docs = np.flatnonzero(held)
        return self.remember(key, (docs.astype(np.int32), total[docs].astype(np.float32)))

    def vector(self, key: tuple, make) -> np.ndarray:
        """A per-document float32 vector, made by ``make()`` and cached
        apart from the posting lists, within ``DENSE_BYTES``: for terms in
        many documents, adding a vector costs a fraction of scattering as
        many postings."""
        vec = self._read(self._dense, key)
        if vec is not None:
            return vec
        vec = make()
        vec.flags.writeable = False  # shared by every query that adds it
        with self._cache_lock:
            self._dense[key] = vec
            if len(self._dense) > self._dense_slots:
                self._dense.popitem(last=False)
        return vec

    def mask(self, docs: np.ndarray) -> np.ndarray:
        """``docs`` as a mask of every document."""
        found = np.zeros(self.n, dtype=bool)
        found[docs] = True
        return found

    def spread(self, docs: np.ndarray, values: np.ndarray | float) -> np.ndarray:
        """``values`` at ``docs``, 0 elsewhere, as a float32 vector."""
        vec = np.zeros(self.n, dtype=np.float32)
        vec[docs] = values
        return vec

    def dense(self, text: str, fields: Fields, k1: float, weight: float = 1.0) -> np.ndarray:
        """``weight`` * :meth:`fields_bm25` as a cached, read-only vector
        (:meth:`vector`).  A query weighs a term one of a few ways (a
        unigram, a bigram, a stop word's, a synonym's), so the product is
        kept rather than made per query."""
        def make() -> np.ndarray:
            docs, values = self.fields_bm25(text, fields, k1)
            return self.spread(docs, values * np.float32(weight))
        return self.vector(("bm25", text, fields, k1, weight), make)


def _footprint(value) -> int:
    """Bytes a cached value holds: its own arrays' (views of the mapped
    index cost nothing) and a record's or a text's strings, and an
    allowance for the Python objects."""
    if isinstance(value, np.ndarray):
        return value.nbytes if value.flags.owndata else 0
    if isinstance(value, tuple):
        return ENTRY_BYTES + sum(_footprint(v) for v in value if isinstance(v, np.ndarray))
    if isinstance(value, dict):
        return ENTRY_BYTES + sum(sys.getsizeof(v) for v in value.values() if isinstance(v, str))
    if isinstance(value, Normalized):  # an offset is a pointer to an int of its own
        return ENTRY_BYTES + sys.getsizeof(value.text) + 36 * len(value.offsets or ()) + (
            sys.getsizeof(value.original) if value.original is not value.text else 0)
    if dataclasses.is_dataclass(value):  # a reranker headline: its arrays and text
        return ENTRY_BYTES + sum(_footprint(v) if isinstance(v, np.ndarray) else sys.getsizeof(v)
                                 for v in vars(value).values() if isinstance(v, (np.ndarray, str)))
    return ENTRY_BYTES


def headline_text(stored: dict) -> str:
    """What a result is shown as: its title, or the start of an untitled
    record's body."""
    return stored.get("title") or " ".join((stored.get("body") or "")[:HEADLINE_CHARS].split())


def idf(doc_count: int, df: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1.0 + (doc_count - df + 0.5) / (df + 0.5))
