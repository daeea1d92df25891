"""Snippets and highlight spans, without re-segmenting documents.

The query's own words (already normalized) are looked up in the normalized
stored text with plain substring search; spans map back to the original
text through :class:`searchkit.text.Normalized`.  That is exact (``马克``
never lights up half of an unrelated segmentation) and costs a few
``str.find`` calls per hit.
"""

from __future__ import annotations

from .text import normalize

SNIPPET_CHARS = 100
_LEAD = 20  # characters of context kept before the first match
_BREAKS = "。！？!?；;\n"


def find_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``terms`` in ``text`` (original offsets),
    longest match first where two overlap."""
    n = normalize(text)
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
    return [n.to_original(s, e) for s, e in merged]


def _best_window(text: str, spans: list[tuple[int, int]], width: int) -> int:
    """Start of the ``width``-character window holding the most distinct
    matched strings (ties: the earliest)."""
    best_start, best_score = spans[0][0], -1
    for i, (s, _) in enumerate(spans):
        seen = {text[a:b] for a, b in spans[i:] if b <= s + width}
        score = len(seen) * 10 + sum(b - a for a, b in spans[i:] if b <= s + width)
        if score > best_score:
            best_start, best_score = s, score
    return best_start


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """About ``width`` characters of ``text`` around its best match, and the
    match spans relative to the snippet.  Line breaks become spaces."""
    spans = find_spans(text, terms)
    if not spans:
        return text[:width].replace("\n", " "), []
    first = _best_window(text, spans, width - _LEAD)
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
