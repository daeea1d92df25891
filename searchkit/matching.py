"""Whoosh's matcher over a posting list held as NumPy arrays.

:class:`codec.TextTermsReader` hands Whoosh's searcher one of these per
term: the same arrays searchkit's own ranking reads, in blocks as W3's own
posting lists are, so Whoosh's top-k search can skip what cannot score.
"""

from __future__ import annotations

import numpy as np
from whoosh.matching import LeafMatcher, NullMatcher, ReadTooFar
from whoosh.system import pack_uint

BLOCK = 128  # postings per block, as in W3


class ArrayMatcher(LeafMatcher):
    """Whoosh's matcher over a posting list held as arrays, in blocks of
    :data:`BLOCK` postings with each block's highest weight, so Whoosh's
    searcher can skip blocks that cannot make the top (as it does on W3's
    own blocks) and find a document by binary search."""

    def __init__(self, ids: np.ndarray, weights: np.ndarray, format_, scorer, term, terminfo, at: int = 0):
        self._ids, self._weights, self.format, self.scorer = ids, weights, format_, scorer
        self._term, self._terminfo, self._i = term, terminfo, at
        self._block_max = np.maximum.reduceat(weights, np.arange(0, weights.size, BLOCK)) if weights.size else weights

    def is_active(self):
        return self._i < self._ids.size

    def reset(self):
        self._i = 0

    def copy(self):
        return ArrayMatcher(self._ids, self._weights, self.format, self.scorer, self._term, self._terminfo, self._i)

    def replace(self, minquality=0):
        if not self.is_active() or (minquality and self.max_quality() < minquality):
            return NullMatcher()
        return self

    def id(self):
        return int(self._ids[self._i])

    def all_ids(self):
        return iter(self._ids[self._i:].tolist())

    def all_items(self):
        return zip(self._ids[self._i:].tolist(), (pack_uint(int(w)) for w in self._weights[self._i:].tolist()))

    def next(self):
        self._i += 1

    def skip_to(self, id):
        if not self.is_active():
            raise ReadTooFar
        self._i = max(self._i, int(np.searchsorted(self._ids, id)))

    def weight(self):
        return float(self._weights[self._i])

    def value(self):
        return pack_uint(int(self._weights[self._i]))

    def block_min_length(self):
        return self._terminfo.min_length()

    def block_max_length(self):
        return self._terminfo.max_length()

    def block_max_weight(self):
        return float(self._block_max[self._i // BLOCK])

    def skip_to_quality(self, minquality):
        skipped = 0
        while self.is_active() and self.block_quality() <= minquality:
            self._i = (self._i // BLOCK + 1) * BLOCK
            skipped += 1
        return skipped
