"""Text normalization shared by indexing and querying.

Every string that reaches the index or the query builder goes through
:func:`normalize`, so ``ＨＰＶ``, ``HPV`` and ``hpv`` or ``醫保`` and ``医保`` are
the same term.  Highlighting needs to map matches back to the original text,
so the normalized string comes with a map from its characters to the
original offsets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

NORM_MEMO_CHARS = 64  # :func:`norm` remembers texts up to this long (a query's)


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported lazily: it loads its dictionaries on first use

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _compat() -> tuple[dict[str, str], re.Pattern, re.Pattern]:
    """Each BMP character's NFKC form where it differs (，-> , ℃ -> °c), a
    pattern for those characters and one for those whose folded form is not
    one character."""
    table = {}
    for c in range(0x80, 0x10000):
        if not 0xD800 <= c < 0xE000:
            f = unicodedata.normalize("NFKC", chr(c))
            if f != chr(c):
                table[c] = f
    resizing = [chr(c) for c, f in table.items() if len(f.lower()) != 1]
    resizing += [chr(c) for c in range(0x80, 0x10000) if c not in table and len(chr(c).lower()) != 1]
    def charset(chars: list[str]) -> re.Pattern:
        return re.compile("[" + "".join(re.escape(ch) for ch in chars) + "]")
    return {chr(c): f for c, f in table.items()}, charset([chr(c) for c in table]), charset(resizing)


def _nfkc(text: str) -> str:
    """NFKC, fast for Chinese text: full-width punctuation makes almost every
    page unnormalized, and ``unicodedata.normalize`` costs ~0.15 µs a
    character.  Replacing characters by their NFKC forms keeps the string
    equivalent, so when the result passes the (fast) check it is the NFKC
    form; otherwise normalize it."""
    if text.isascii():
        return text
    table, compat, _ = _compat()
    # Each distinct character replaced at once (a text holds a handful: ，。
    # ？), which is what re.sub would make, at half its cost: no NFKC form
    # holds a character that has another.
    out, at = text, 0
    while m := compat.search(out, at):
        ch, at = m.group(), m.start()
        out = out[:at] + out[at:].replace(ch, table[ch])
        at += len(table[ch])
    return out if unicodedata.is_normalized("NFKC", out) else unicodedata.normalize("NFKC", out)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _fold(text: str, simplified: bool = False) -> str:
    """NFKC, lower case, traditional to simplified (unless ``simplified``):
    may change the length.  A lone surrogate (only Python strings hold
    them; OpenCC cannot encode one) becomes U+FFFD."""
    folded = _nfkc(text).lower()
    if simplified:
        return folded
    try:
        return _t2s().convert(folded)
    except UnicodeEncodeError:
        return _t2s().convert(_SURROGATE.sub("\ufffd", folded))


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
        if end <= start:
            return begin, begin
        # The end is where the next character's source starts (so é from
        # e + U+0301 covers both), unless that source is the same character
        # (℃ -> °c): then the last character taken, plus one.
        stop = o[end - 1] + 1
        if end < len(o) and o[end] > stop:
            stop = o[end]
        return begin, stop


def normalize(text: str, simplified: bool = False) -> Normalized:
    """Fold the whole string at once; when folding changed the length (℃,
    ligatures, ``İ``, e + U+0301), fold the stretches between such
    characters as wholes and only what still changes length one cluster (a
    character and the combining marks after it) at a time, so ``cafe\u0301``
    and ``café`` fold alike.  ``simplified``: the text is known to need no
    traditional-to-simplified conversion (:func:`normalize_checked`), half
    the cost of folding Chinese, which is then skipped."""
    folded = _fold(text, simplified)
    # Equal lengths mean character i came from character i unless something
    # composed (e + U+0301 -> é) while something else grew (℃ -> °c).
    if len(folded) == len(text) and unicodedata.is_normalized("NFC", text):
        return Normalized(folded, text, None)
    parts: list[str] = []
    offsets: list[int] = []

    def add(start: int, end: int) -> None:
        piece = text[start:end]
        f = _fold(piece, simplified)
        if len(f) == len(piece):
            parts.append(f)
            offsets.extend(range(start, end))
        elif _cluster_end(text, start, end) == end:
            parts.append(f)
            offsets.extend([start] * len(f))
        else:  # fold cluster by cluster
            i = start
            while i < end:
                j = _cluster_end(text, i, end)
                add(i, j)
                i = j

    last = 0
    for m in _compat()[2].finditer(text):
        if m.start() > last:
            add(last, m.start())
        add(m.start(), m.end())
        last = m.end()
    if last < len(text):
        add(last, len(text))
    return Normalized("".join(parts), text, tuple(offsets))


# Blocks scanned for characters that fold to one character, themselves or
# ASCII (，-> ,  ０ -> 0  ① -> 1); Han ideographs (no decompositions, no case)
# are added as whole ranges.
_SCANNED = ((0x80, 0x250), (0x370, 0x400), (0x2000, 0x2C00), (0x3000, 0x3040), (0xFE30, 0xFE50), (0xFF00, 0xFFF0))
_ASCII = re.compile(r"[\x00-\x7f]")


@lru_cache(maxsize=1)
def _unaligned() -> re.Pattern:
    """A character outside the set where folding (``simplified``) maps
    each character to one character, and only a character itself (or an
    ASCII one) maps to a non-ASCII one; no two such characters compose."""
    table = _compat()[0]
    kept = [(0, 0x7F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF)]
    for lo, hi in _SCANNED:
        for code in range(lo, hi):
            c = chr(code)
            f = table.get(c, c).lower()  # _fold(c, simplified=True)
            if (len(f) == 1 and (f == c or f.isascii()) and not unicodedata.combining(c)
                    and not unicodedata.combining(f)):
                if kept[-1][1] == code - 1:
                    kept[-1] = (kept[-1][0], code)
                else:
                    kept.append((code, code))
    return re.compile("[^" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in kept) + "]")


def asks_ascii(needles: list[str]) -> bool:
    """Does any needle hold an ASCII character (:func:`folded_for` folds
    whole texts for those)?"""
    return bool(_ASCII.search("".join(needles)))


def folded_for(text: str, needles: list[str], simplified: bool = False) -> Normalized:
    """``normalize(text, simplified)`` for finding ``needles`` (normalized
    strings) in it, or ``text`` as it is where that finds the same matches
    at the same offsets: the needles are all non-ASCII and the text needs no
    traditional-to-simplified folding and holds only characters of
    :func:`_unaligned`'s set.  Most bodies qualify, and folding one costs
    ~10x the check."""
    if simplified and not asks_ascii(needles) and not _unaligned().search(text):
        return Normalized(text, text, None)
    return normalize(text, simplified)


def normalize_checked(text: str) -> tuple[Normalized, bool]:
    """``normalize(text)``, and whether ``normalize(text, simplified=True)``
    gives the same: the indexer records it per document, so that snippets
    fold stored text at half the cost."""
    plain = _fold(text, simplified=True)
    try:
        folded = _t2s().convert(plain)
    except UnicodeEncodeError:
        return normalize(text), False
    if len(folded) == len(text) and unicodedata.is_normalized("NFC", text):
        return Normalized(folded, text, None), folded == plain
    n = normalize(text)
    return n, n == normalize(text, simplified=True)


def _cluster_end(text: str, start: int, end: int) -> int:
    """The end of the character at ``start`` and the combining marks after it."""
    i = start + 1
    while i < end and unicodedata.combining(text[i]):
        i += 1
    return i


def norm(text: str) -> str:
    """The normalized form alone, for keys and terms.  A query's texts are
    normalized a dozen times in one search (parsing, terms, coverage,
    snippets...), so short ones are remembered for a while."""
    return _norm_short(text) if len(text) <= NORM_MEMO_CHARS else normalize(text).text


@lru_cache(maxsize=256)
def _norm_short(text: str) -> str:
    return normalize(text).text
