"""Snippets and highlight spans, without re-segmenting documents.

The query's own words (already normalized) are looked up in the normalized
stored text with plain substring search; spans map back to the original
text through :class:`searchkit.text.Normalized`.  That is exact (``马克``
never lights up half of an unrelated segmentation) and costs a few
``str.find`` calls per hit.
"""

from __future__ import annotations

import numpy as np

from .text import Normalized, normalize

SNIPPET_CHARS = 100
_LEAD = 20  # characters of context kept before the first match
_BREAKS = "。！？!?；;\n"
_MAX_STARTS = 24  # windows starting at matches, and at characters of words not held whole, scored at most


def _spans(n: Normalized, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``terms`` in the normalized text, longest
    match first where two overlap."""
    hay = n.text
    found: list[tuple[int, int]] = []
    for term in terms:
        if not term:
            continue
        i = hay.find(term)
        while i >= 0:
            found.append((i, i + len(term)))
            i = hay.find(term, i + 1)
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    merged: list[tuple[int, int]] = []
    for s, e in found:
        if merged and s < merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
            continue
        merged.append((s, e))
    return merged


def find_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``terms`` in ``text`` (original offsets)."""
    n = normalize(text)
    return [n.to_original(s, e) for s, e in _spans(n, terms)]


def _positions(hay: str, s: str) -> list[int]:
    out, i = [], hay.find(s)
    while i >= 0:
        out.append(i)
        i = hay.find(s, i + 1)
    return out


def _spread(positions: list[int]) -> list[int]:
    return positions[::-(-len(positions) // _MAX_STARTS)] if len(positions) > _MAX_STARTS else positions


def _held(positions: list[int], starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """For each window [start, stop): does one of ``positions`` (ascending) fall in it?"""
    if not positions:
        return np.zeros(starts.size, dtype=bool)
    at = np.asarray(positions)
    i = np.searchsorted(at, starts)
    return (i < at.size) & (at[np.minimum(i, at.size - 1)] < stops)


def _best_window(hay: str, spans: list[tuple[int, int]], words: list[tuple[str, float]], width: int) -> int:
    """Start (in ``hay``) of the ``width``-character window that covers the
    most of the query's words, each weighted (by its rarity): a word counts
    whole where it occurs; a word the text never holds whole counts for
    half the share of its characters that occur (the 带 of 忘带 in
    未携带医保卡).  Then more highlighted text; ties go to the earliest.
    All candidate windows are scored at once, word by word."""
    whole = {w: _positions(hay, w) for w, _ in words}
    chars = {c: _positions(hay, c) for w, _ in words if not whole[w] for c in set(w)}
    # Windows start at matches and at those characters, each kind spread over
    # the text when there are many (a long text full of the query's characters).
    at_matches = _spread(sorted({s for s, _ in spans}))
    at_chars = _spread(sorted(set().union(*chars.values())))
    starts = np.array(sorted(set(at_matches).union(at_chars)))
    stops = starts + width
    span_starts = [s for s, _ in spans]
    lit = np.cumsum([0] + [e - s for s, e in spans])
    scores = 1e-3 * (lit[np.searchsorted(span_starts, stops)] - lit[np.searchsorted(span_starts, starts)])
    for w, weight in words:
        if whole[w]:
            scores += weight * _held(whole[w], starts, stops - len(w) + 1)
        else:
            scores += weight * 0.5 * sum(_held(chars[c], starts, stops) for c in set(w)) / len(set(w))
    best_start, best_score = 0, -1.0
    for a, score in zip(starts.tolist(), scores.tolist()):
        if score > best_score + 1e-9:
            best_start, best_score = a, score
    return best_start


def snippet(text: str, terms: list[str], words: list[tuple[str, float]] | None = None,
            width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """About ``width`` characters of ``text`` around the passage that best
    covers the query's ``words`` (word, weight; default: the terms), and the
    spans of ``terms`` relative to the snippet.  Line breaks become spaces."""
    n = normalize(text)
    spans = _spans(n, terms)
    if not spans:
        return text[:width].replace("\n", " "), []
    at = _best_window(n.text, spans, words or [(t, 1.0) for t in terms], width - _LEAD)
    first = n.to_original(at, at + 1)[0]
    spans = [n.to_original(s, e) for s, e in spans]
    start = max(0, first - _LEAD)
    # Start at a sentence boundary when one is near.
    cut = max(text.rfind(ch, start, first) for ch in _BREAKS)
    if cut >= 0:
        start = cut + 1
    if len(text) - start < width:
        start = max(0, len(text) - width)
    end = min(len(text), start + width)
    inside = [(s - start, e - start) for s, e in spans if s >= start and e <= end]
    return text[start:end].replace("\n", " "), inside
