"""Snippets and highlight spans, without re-segmenting documents.

The query's own words (already normalized) are looked up in the normalized
stored text with plain substring search; spans map back to the original
text through :class:`searchkit.text.Normalized`.  That is exact (``马克``
never lights up half of an unrelated segmentation) and costs a few
``str.find`` calls per hit.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from .text import Normalized, normalize

SNIPPET_CHARS = 100
_LEAD = 20  # characters of context kept before the first match
_BREAKS = "。！？!?；;\n"
_MAX_STARTS = 24  # windows starting at matches, and at characters of words not held whole, scored at most


def _occurrences(hay: str, terms: list[str]) -> dict[str, list[int]]:
    """Where each term starts in ``hay``, overlaps included."""
    return {t: _positions(hay, t) for t in terms if t}


def _spans(found: dict[str, list[int]]) -> list[tuple[int, int]]:
    """Non-overlapping spans of the terms found (:func:`_occurrences`),
    longest match first where two overlap."""
    merged: list[tuple[int, int]] = []
    for s, minus in sorted((i, -len(t)) for t, at in found.items() for i in at):
        e = s - minus
        if merged and s < merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
            continue
        merged.append((s, e))
    return merged


def find_spans(text: str, terms: list[str], folded: Normalized | None = None) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``terms`` in ``text`` (original offsets);
    ``folded``: ``normalize(text)``, when known."""
    n = folded or normalize(text)
    return [n.to_original(s, e) for s, e in _spans(_occurrences(n.text, terms))]


def _positions(hay: str, s: str) -> list[int]:
    out, i = [], hay.find(s)
    while i >= 0:
        out.append(i)
        i = hay.find(s, i + 1)
    return out


def _spread(positions: list[int]) -> list[int]:
    return positions[::-(-len(positions) // _MAX_STARTS)] if len(positions) > _MAX_STARTS else positions


def _best_window(hay: str, spans: list[tuple[int, int]], words: list[tuple[str, float]], width: int,
                 found: dict[str, list[int]]) -> int:
    """Start (in ``hay``) of the ``width``-character window that covers the
    most of the query's words, each weighted (by its rarity): a word counts
    whole where it occurs; a word the text never holds whole counts for
    half the share of its characters that occur (the 带 of 忘带 in
    未携带医保卡).  Then more highlighted text; ties go to the earliest.
    ``found``: the highlighted terms' positions, most words among them."""
    whole = {w: found[w] if w in found else _positions(hay, w) for w, _ in words}
    chars = {c: _positions(hay, c) for w, _ in words if not whole[w] for c in set(w)}
    # Windows start at matches and at those characters, each kind spread over
    # the text when there are many (a long text full of the query's characters).
    at_matches = _spread(sorted({s for s, _ in spans}))
    at_chars = _spread(sorted(set().union(*chars.values())))
    starts = sorted(set(at_matches).union(at_chars))
    span_starts = [s for s, _ in spans]
    lit = [0]
    for s, e in spans:
        lit.append(lit[-1] + e - s)
    score = [1e-3 * (lit[bisect_left(span_starts, a + width)] - lit[bisect_left(span_starts, a)]) for a in starts]
    # Each word in turn: where it occurs whole (starting early enough to end
    # inside), or else where each of its characters does.
    for w, weight in words:
        if whole[w]:
            rows = [(whole[w], width - len(w) + 1, weight)]
        else:
            each = set(w)
            rows = [(chars[c], width, weight * 0.5 / len(each)) for c in each]
        for at, reach, gain in rows:
            if len(at) < len(starts):  # from the occurrences: the a in (p - reach, p], each once
                done = 0
                for p in at:
                    hi = bisect_right(starts, p)
                    for k in range(max(bisect_right(starts, p - reach), done), hi):
                        score[k] += gain
                    done = hi  # never moves left: the occurrences ascend
            else:
                for k, a in enumerate(starts):
                    if (i := bisect_left(at, a)) < len(at) and at[i] < a + reach:
                        score[k] += gain
    best = max(score)
    return next(a for a, sc in zip(starts, score) if sc > best - 1e-9)


def snippet(n: Normalized, terms: list[str], words: list[tuple[str, float]] | None = None,
            width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """About ``width`` characters of a text around the passage that best
    covers the query's ``words`` (word, weight; default: the terms), and the
    spans of ``terms`` relative to the snippet.  Line breaks become spaces.
    ``n``: the text as :func:`text.folded_for` folds it for the terms and words."""
    words = words or [(t, 1.0) for t in terms]
    text = n.original
    found = _occurrences(n.text, terms)
    spans = _spans(found)
    if not spans:
        return text[:width].replace("\n", " "), []
    at = _best_window(n.text, spans, words, width - _LEAD, found)
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
