"""What the index's own vocabulary can answer: pinyin to Hanzi (and reading
a query as pinyin), autocomplete, and did-you-mean.

Pinyin keys come from pypinyin's phrase dictionary where it knows the word
(so 会计 is kuaiji, never huiji) and from each character's readings
otherwise.  Only the index's words are candidates, ranked by how many
documents hold them, so a suggestion always finds something.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from .analysis import text_words
from .errors import UsageError
from .query import NOT, SHOULD, Clause
from .text import norm

_HAN_WORD = re.compile(r"^[\u3400-\u9fff]{2,8}$")
PINYIN_QUERY = re.compile(r"^[a-z]+( [a-z]+)*$")
_MAX_READINGS = 4


@dataclass
class Suggestion:
    text: str
    kind: str  # "title" or "term"
    count: int


def _toneless(syllable: str) -> str:
    s = syllable.replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v").replace("ǚ", "v").replace("ǜ", "v")
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[int, str], dict[str, list[list[str]]]]:
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    return PINYIN_DICT, PHRASES_DICT


def readings(word: str) -> list[list[str]]:
    """Plausible toneless syllable sequences of a Han word (at most
    ``_MAX_READINGS``)."""
    chars, phrases = _tables()
    known = phrases.get(word)
    if known:
        return [[_toneless(r[0]) for r in known]]
    per_char = []
    for ch in word:
        found = chars.get(ord(ch))
        if not found:
            return []
        per_char.append(list(dict.fromkeys(_toneless(r) for r in found.split(",")))[:2])
    return [list(p) for p in itertools.islice(itertools.product(*per_char), _MAX_READINGS)]


def pinyin_key(word: str) -> str | None:
    """The first reading, joined (医保 -> yibao): what a homophone typo shares."""
    r = readings(word)
    return "".join(r[0]) if r else None


def _prefix_range(keys: list[str], prefix: str) -> tuple[int, int]:
    """The slice of sorted ``keys`` that start with ``prefix``."""
    return bisect.bisect_left(keys, prefix), bisect.bisect_left(keys, prefix + "\U0010ffff")


def _best(rank: np.ndarray, lo: int, hi: int, k: int) -> np.ndarray:
    """Positions in ``lo:hi`` of the ``k`` smallest ranks, smallest first:
    one pass over the slice, so any prefix, however common, gets its true
    top k."""
    r = rank[lo:hi]
    top = np.argpartition(r, k - 1)[:k] if r.size > k else np.arange(r.size)
    return lo + top[np.argsort(r[top], kind="stable")]


def _ranks(items: list, order: list) -> np.ndarray:
    """Each item's position in ``order`` (the best first)."""
    position = {x: i for i, x in enumerate(order)}
    return np.fromiter((position[x] for x in items), dtype=np.int64, count=len(items))


class Vocabulary:
    """The indexed words (title and body word fields) with their document
    frequencies, and pinyin keys for the Han ones.

    For autocomplete, words (and titles) are kept sorted with each one's
    rank by frequency beside it: the completions of a prefix are a
    contiguous slice, and its best k one partial sort of their ranks."""

    def __init__(self, postings):
        df: dict[str, int] = {}
        for field in ("title", "body"):
            for term, n in postings.terms(field).items():
                df[term] = max(df.get(term, 0), n)
        self.df = df
        self.words = sorted(w for w in df if _HAN_WORD.match(w))
        by_key: dict[str, set[str]] = {}
        full: set[str] = set()
        for w in self.words:
            for syllables in readings(w):
                full.add("".join(syllables))
                by_key.setdefault("".join(syllables), set()).add(w)
                by_key.setdefault("".join(s[0] for s in syllables), set()).add(w)
        self.by_key = {k: sorted(v, key=lambda w: (-df[w], w)) for k, v in by_key.items()}
        self.full_keys = full
        # Completion order: most frequent, then shortest, then by code point.
        order = sorted(self.words, key=lambda w: (-df[w], len(w), w))
        self._word_rank = _ranks(self.words, order)
        # Every key's words, key after key in key order: the words under the
        # keys that start with a prefix are one slice of them.
        self.keys = sorted(self.by_key)
        self._key_words = [w for k in self.keys for w in self.by_key[k]]
        self._key_start = np.cumsum([0] + [len(self.by_key[k]) for k in self.keys])
        self._key_rank = _ranks(self._key_words, order)
        self._postings = postings
        self._titles: tuple[list[str], list[tuple[str, int]], np.ndarray] | None = None

    def titles(self) -> tuple[list[str], list[tuple[str, int]], np.ndarray]:
        """Normalized titles, sorted; each one's (title, how many documents
        carry it); their ranks in completion order."""
        with self._postings.whoosh():  # Whoosh's stored-field reader is not shared safely
            return self._read_titles()

    def _read_titles(self) -> tuple[list[str], list[tuple[str, int]], np.ndarray]:
        if self._titles is None:
            counts: dict[str, list] = {}
            for stored in self._postings.searcher.all_stored_fields():
                title = stored.get("title") or ""
                if title:
                    entry = counts.setdefault(norm(title), [title, 0])
                    entry[1] += 1
            keys = sorted(counts)
            entries = [(counts[k][0], counts[k][1]) for k in keys]
            order = sorted(range(len(keys)), key=lambda i: (-entries[i][1], len(entries[i][0]), entries[i][0]))
            self._titles = keys, entries, _ranks(list(range(len(keys))), order)
        return self._titles

    def from_pinyin(self, letters: str, limit: int = 3) -> list[str]:
        """Han words whose full pinyin or initials are exactly ``letters``;
        failing that, the fewest indexed words whose pinyin spells it out
        (ertongyiyuan -> 儿童 医院)."""
        key = letters.replace(" ", "")
        exact = self.by_key.get(key, [])
        if exact:
            # Initials are ambiguous (yb: 医保, 一般, 一步…): take only the most frequent.
            return exact[:limit if key in self.full_keys else 1]
        return [self.by_key[k][0] for k in self._split(key)]

    def _split(self, key: str) -> list[str]:
        """Segment pinyin letters into the fewest full keys of indexed words."""
        best: list[list[str] | None] = [[]] + [None] * len(key)
        for i in range(len(key)):
            if best[i] is None:
                continue
            for j in range(len(key), i + 1, -1):
                part = key[i:j]
                if part in self.full_keys and (best[j] is None or len(best[i]) + 1 < len(best[j])):
                    best[j] = best[i] + [part]
        return best[-1] or []

    def complete(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """The ``limit`` most frequent titles and words starting with
        ``prefix`` (Hanzi, or pinyin letters).  An empty prefix raises
        UsageError."""
        p = norm(prefix).strip()
        if not p:
            raise UsageError("an empty prefix completes nothing: give the start of a word, in Hanzi or pinyin")
        out: dict[str, Suggestion] = {}
        if PINYIN_QUERY.match(p):
            lo, hi = _prefix_range(self.keys, p.replace(" ", ""))
            # A word sits under at most two keys per reading: taking that
            # many times ``limit`` entries leaves ``limit`` distinct words.
            for i in _best(self._key_rank, int(self._key_start[lo]), int(self._key_start[hi]),
                           limit * 2 * _MAX_READINGS):
                w = self._key_words[i]
                out.setdefault(w, Suggestion(w, "term", self.df[w]))
        else:
            for i in _best(self._word_rank, *_prefix_range(self.words, p), limit):
                w = self.words[i]
                out[w] = Suggestion(w, "term", self.df[w])
            keys, entries, rank = self.titles()
            # Twice as many titles: a title that is also a word counts once.
            for i in _best(rank, *_prefix_range(keys, p), 2 * limit):
                title, count = entries[i]
                out.setdefault(title, Suggestion(title, "title", count))
        return sorted(out.values(), key=lambda s: (-s.count, s.kind != "title", len(s.text), s.text))[:limit]

    def correct(self, query: str) -> str | None:
        """A query the index knows better: pinyin spelled out in Hanzi, or
        unknown words replaced by the most frequent indexed homophone."""
        n = norm(query).strip()
        if PINYIN_QUERY.match(n):
            key = n.replace(" ", "")
            exact = self.by_key.get(key)
            words = exact[:1] if exact else [self.by_key[k][0] for k in self._split(key)]
            return " ".join(words) if words else None
        changed, parts, last = False, [], 0
        for w, _, s, e in text_words(n):  # cached: a one-clause query's search has cut this text already
            if s < last:
                continue  # a search-mode sub-word inside a word already taken
            if _HAN_WORD.match(w) and not self.df.get(w):
                key = pinyin_key(w)
                better = self.by_key.get(key, []) if key else []
                if better:
                    parts.append(n[last:s] + better[0])
                    last, changed = e, True
        if not changed:
            whole = pinyin_key(n) if _HAN_WORD.match(n) else None
            better = self.by_key.get(whole, []) if whole else []
            return better[0] if better and better[0] != n else None
        return "".join(parts) + n[last:]


PINYIN_MIN_HITS = 3  # a pinyin-looking query whose letters match fewer documents is read as Hanzi
Rank = Callable[[list[Clause]], tuple[np.ndarray, np.ndarray]]  # clauses -> (scores, matched) of every document


def read_pinyin(query: str, scores: np.ndarray, matched: np.ndarray, keep: np.ndarray,
                from_pinyin: Callable[[str], list[str]], rank: Rank) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a pure-letters query as pinyin when its letters match little
    (``keep``: the documents the filters allow).  Letter matches stay ranked
    above every pinyin match."""
    n = norm(query).strip()
    if not PINYIN_QUERY.match(n) or np.count_nonzero(matched & keep) >= PINYIN_MIN_HITS:
        return scores, matched, []
    words = from_pinyin(n)
    if not words:
        return scores, matched, []
    extra, extra_matched = rank([Clause(SHOULD, w) for w in words])
    top = float(extra.max()) if extra.size else 0.0
    combined = np.where(matched, scores + top + 1.0, extra)
    return combined.astype(np.float32), matched | extra_matched, words


def read_pinyin_clauses(clauses: list[Clause], keep: np.ndarray, from_pinyin: Callable[[str], list[str]],
                        rank: Rank) -> tuple[list[Clause], list[str]]:
    """In a query with operators or fields, each pure-letters clause
    whose letters match little is read as pinyin on its own
    (``yibao -北京``, ``title:yibao``): it becomes a group of its words."""
    read: list[str] = []

    def rewrite(c: Clause) -> Clause:
        if c.is_group:
            return Clause(c.occur, c.text, c.phrase, c.field, [rewrite(x) for x in c.children])
        n = norm(c.text).strip()
        if c.occur == NOT or c.phrase or not PINYIN_QUERY.match(n):
            return c
        if np.count_nonzero(rank([Clause(SHOULD, c.text, False, c.field)])[1] & keep) >= PINYIN_MIN_HITS:
            return c
        words = from_pinyin(n)
        if not words:
            return c
        read.extend(words)
        return Clause(c.occur, field=c.field, children=[Clause(SHOULD, w, False, c.field) for w in words])
    return [rewrite(c) for c in clauses], read
