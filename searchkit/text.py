"""Text normalization shared by indexing and querying.

Every string that reaches the index or the query builder goes through
:func:`normalize`, so ``ＨＰＶ``, ``HPV`` and ``hpv`` or ``醫保`` and ``医保`` are
the same term.  Highlighting needs to map matches back to the original text,
so the normalized string comes with a map from its characters to the
original offsets.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported lazily: it loads its dictionaries on first use

    return opencc.OpenCC("t2s")


def _fold(text: str) -> str:
    """NFKC, lower case, traditional to simplified: may change the length."""
    return _t2s().convert(unicodedata.normalize("NFKC", text).lower())


@dataclass(frozen=True)
class Normalized:
    """A normalized string and where each of its characters came from."""

    text: str
    original: str
    offsets: tuple[int, ...] | None  # None: character i came from character i

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalized text back to the original text."""
        if self.offsets is None:
            return start, end
        o = self.offsets
        begin = o[start] if start < len(o) else len(self.original)
        # The end is the offset of the last character taken, plus one.
        stop = o[end - 1] + 1 if end > start else begin
        return begin, stop


def normalize(text: str) -> Normalized:
    """Fold the whole string at once; fall back to one character at a time
    only when folding changed the length (rare: ligatures, ``㎏``, ``İ``)."""
    folded = _fold(text)
    if len(folded) == len(text):
        return Normalized(folded, text, None)
    parts: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        f = _fold(ch)
        parts.append(f)
        offsets.extend([i] * len(f))
    return Normalized("".join(parts), text, tuple(offsets))


def norm(text: str) -> str:
    """The normalized form alone, for keys and terms."""
    return normalize(text).text
