"""Searching an index: ``SearchIndex``, query building and ranking.

Each text clause of a query becomes a weighted sum of BM25 scores over the
word fields (title above headings above body) and the character fields
(unigrams and bigrams), so a whole-word match always adds to the character
matches it implies.  Question words
(什么, 怎么, 吗…) have a weight of their own, synonyms weigh less than the words a user
typed, and character-level matches only ever add to word matches.  The
best few results are then rescored by how much of their headline the query
covers (:meth:`_Matcher.focus`).
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
import re
import struct
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Iterator

import numpy as np
from whoosh import query as wq

from .analysis import char_tokens, data_lines, is_han, word_tokens
from .errors import IndexUnreadableError, QuerySyntaxError, UsageError
from .highlight import find_spans, snippet
from .indexer import current_generation, default_index_dir
from .pages import KINDS
from .query import MUST, NOT, SHOULD, Clause, parse_query
from .facets import FacetIndex
from .schema import FORMAT_VERSION, WORD_FIELDS
from .scoring import Postings, bm25, idf
from .suggest import PINYIN_QUERY, Suggestion, Vocabulary
from .text import norm


def learned_weights() -> dict[str, float]:
    """The shipped ranking weights, fitted on judged queries by
    ``tools/train_ranking.py`` (``data/ranking.json``); read once, at import."""
    text = resources.files("searchkit").joinpath("data", "ranking.json").read_text(encoding="utf-8")
    return json.loads(text)["weights"]


_LEARNED = learned_weights()


@dataclass(frozen=True)
class Ranking:
    """Weights of the ranking function.  The defaults are the learned ones
    (:func:`learned_weights`); pass any of them to override it."""

    title: float = _LEARNED["title"]
    headings: float = _LEARNED["headings"]
    body: float = _LEARNED["body"]
    bigram: float = _LEARNED["bigram"]
    unigram: float = _LEARNED["unigram"]
    title_chars: float = _LEARNED["title_chars"]
    stopword: float = _LEARNED["stopword"]
    synonym: float = _LEARNED["synonym"]
    coverage: float = _LEARNED["coverage"]  # exponent on the share of the query's words a document has
    focus: float = _LEARNED["focus"]  # exponent on the share of a top document's headline the query covers
    k1: float = _LEARNED["k1"]
    b: float = _LEARNED["b"]
    title_b: float = _LEARNED["title_b"]


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(norm(w) for w in data_lines("stopwords.txt"))


@lru_cache(maxsize=1)
def synonyms() -> dict[str, tuple[str, ...]]:
    table: dict[str, set[str]] = {}
    for line in data_lines("synonyms.txt"):
        group = [norm(w) for w in line.split()]
        for w in group:
            table.setdefault(w, set()).update(x for x in group if x != w)
    return {w: tuple(sorted(s)) for w, s in table.items()}


def _word_fields(clause: Clause, r: Ranking) -> list[tuple[str, float]]:
    fields = {"title": [("title", r.title)], "body": [("headings", r.headings), ("body", r.body)]}
    return fields.get(clause.field or "", fields["title"] + fields["body"])


def _char_fields(clause: Clause, r: Ranking) -> list[tuple[str, float]]:
    fields = {"title": [("title_chars", r.title_chars)], "body": [("chars", 1.0)]}
    return fields.get(clause.field or "", fields["title"] + fields["body"])


@lru_cache(maxsize=1024)
def clause_words(text: str) -> tuple[tuple[str, bool, int, int], ...]:
    """(word, is_stop, start, end) of normalized clause text: question and
    function words are marked to weigh apart (``Ranking.stopword``), unless nothing else is there.
    Cached: scoring, coverage and highlighting each ask for a clause's words."""
    words = [(w, s, e) for w, _, s, e in word_tokens(text)]
    # A synonym entry that jieba cuts into several words (什么原因, 怀孕初期) is a
    # word of the clause where it spans whole words, so its synonyms apply.
    starts, ends, cut = {s for _, s, _ in words}, {e for *_, e in words}, {w for w, *_ in words}
    for entry in synonyms():
        if len(entry) > 1 and entry not in cut:
            at = text.find(entry)
            while at >= 0 and not (at in starts and at + len(entry) in ends):
                at = text.find(entry, at + 1)
            if at >= 0:
                words.append((entry, at, at + len(entry)))
    stops = stopwords()
    # Search-mode sub-words of a stop word (可不, 不可 in 可不可以) are stop words too.
    spans = [(s, e) for w, s, e in words if w in stops]
    stop = [w in stops or any(a <= s and e <= b for a, b in spans) for w, s, e in words]
    content = not all(stop)
    return tuple((w, content and is_stop, s, e) for (w, s, e), is_stop in zip(words, stop))


def _char_variants(t: str) -> list[str]:
    """A character n-gram with single-character synonyms swapped in
    (牙疼 -> 牙痛)."""
    syn = synonyms()
    out = []
    for i, ch in enumerate(t):
        out += [t[:i] + other + t[i + 1:] for other in syn.get(ch, ()) if len(other) == 1]
    return out


def clause_terms(clause: Clause, r: Ranking) -> list[tuple[str, str, float]]:
    """(field, term, weight) that score a text clause: its words, their
    synonyms (words and characters, at a lower weight) and its character
    n-grams."""
    n = norm(clause.text)
    weights: dict[tuple[str, str], float] = {}
    word_fields, char_fields = _word_fields(clause, r), _char_fields(clause, r)

    def add(fields: list[tuple[str, float]], text: str, w: float) -> None:
        for fname, fb in fields:
            weights[(fname, text)] = weights.get((fname, text), 0.0) + w * fb

    def add_chars(text: str, w: float, spans: list[tuple[int, int]]) -> None:
        for t, _, s, e in char_tokens(text):
            wt = w * (r.bigram if len(t) == 2 and not t.isascii() else r.unigram)
            if any(a <= s and e <= b for a, b in spans):
                wt *= r.stopword
            add(char_fields, t, wt)
            for v in _char_variants(t):
                add(char_fields, v, wt * r.synonym)

    stop_spans = []
    syn = synonyms()
    for w, stop, s, e in clause_words(n):
        wt = r.stopword if stop else 1.0
        if stop:
            stop_spans.append((s, e))
        add(word_fields, w, wt)
        for other in syn.get(w, ()):
            if len(other) > 1 or len(w) > 1:
                add(word_fields, other, wt * r.synonym)
                add_chars(other, wt * r.synonym, [])
    add_chars(n, 1.0, stop_spans)
    return [(f, t, w) for (f, t), w in weights.items()]


def phrase_parts(text: str) -> list[list[str]]:
    """The unit sequences of an exact phrase, split where it has a gap
    (punctuation, space)."""
    parts: list[list[str]] = [[]]
    last = None
    for t, pos, _, _ in char_tokens(text):
        if len(t) == 2 and not t.isascii():
            continue  # bigrams: unigrams alone define the sequence
        if last is not None and pos != last + 1:
            parts.append([])
        parts[-1].append(t)
        last = pos
    return [p for p in parts if p]


def _phrase_pattern(parts: list[list[str]]) -> re.Pattern:
    """A regular expression for a phrase's units in a row, as
    :func:`char_tokens` counts adjacency (Latin/digit runs are whole and may
    be joined by one of ``-./+#_``); between parts, any non-word characters."""
    pieces = []
    for units in parts:
        out = []
        for i, u in enumerate(units):
            if i and u.isascii() and units[i - 1].isascii():
                out.append("[-./+#_]?")
            out.append(rf"(?<![a-z0-9]){re.escape(u)}(?![a-z0-9])" if u.isascii() else re.escape(u))
        pieces.append("".join(out))
    return re.compile(r"[\W_]*".join(pieces))


class _Matcher:
    """Evaluates parsed clauses over a whole index at once: a score array
    and a boolean match array per clause, combined as the query says."""

    def __init__(self, postings: Postings, searcher, ranking: Ranking):
        self.p = postings
        self.searcher = searcher
        self.r = ranking
        self.b_of = {"title": ranking.title_b, "title_chars": ranking.title_b}

    def _mask(self, docs) -> np.ndarray:
        m = np.zeros(self.p.n, dtype=bool)
        m[np.asarray(docs, dtype=np.int64)] = True
        return m

    def contains(self, clause: Clause) -> np.ndarray:
        """Documents holding the clause's text as an exact character sequence
        (spaces and punctuation inside it may be any or none)."""
        n = norm(clause.text)
        parts = phrase_parts(n)
        found = np.zeros(self.p.n, dtype=bool)
        if parts:
            for fname, _ in _char_fields(clause, self.r):
                found[self._sequence(fname, parts)] = True
        return found

    def _sequence(self, fname: str, parts: list[list[str]]) -> np.ndarray:
        """Documents whose field holds the parts' units in a row: those with
        all their units and bigrams, checked against the stored text unless
        the grams alone decide it (one unit, or two Han characters)."""
        grams = {g for units in parts for g in units}
        grams |= {a + b for units in parts for a, b in zip(units, units[1:]) if is_han(a) and is_han(b)}
        docs = None
        for g in sorted(grams, key=lambda g: self.p.docs(fname, g).size):
            d = self.p.docs(fname, g)
            docs = d if docs is None else np.intersect1d(docs, d, assume_unique=True)
            if not docs.size:
                return docs
        units = parts[0]
        if len(parts) == 1 and (len(units) == 1 or (len(units) == 2 and is_han(units[0]) and is_han(units[1]))):
            return docs
        pattern = _phrase_pattern(parts)
        stored = "title" if fname == "title_chars" else "body"
        return np.array([d for d in docs.tolist()
                         if pattern.search(norm(self.searcher.stored_fields(d).get(stored) or ""))], dtype=np.int64)

    def coverage(self, clause: Clause) -> np.ndarray:
        """Share of the clause's content each document holds.  Each query
        word counts as one unit, weighted by the mean idf of its characters
        (missing the disease or the body part costs more than missing a
        common word), and a document holding part of a word covers that part
        of it.  A document holding a synonym of a query word (腹泻 for 拉肚子)
        covers that word."""
        n = norm(clause.text)
        words = clause_words(n)
        stops = [(s, e) for _, stop, s, e in words if stop]
        content = [(s, e) for _, stop, s, e in words if not stop]
        # Each character's share: 1 / the length of the longest content word holding it.
        units: dict[str, float] = {}
        for t, _, s, e in char_tokens(n):
            if (len(t) == 1 or t.isascii()) and not any(a <= s and e <= b for a, b in stops):
                span = 1 if t.isascii() else max([b - a for a, b in content if a <= s and e <= b], default=1)
                units[t] = max(units.get(t, 0.0), 1.0 / span)
        by_synonym = self._synonym_cover(clause, words)
        covered = np.zeros(self.p.n, dtype=np.float32)
        total = 0.0
        for u, share in units.items():
            here = by_synonym[u].copy() if u in by_synonym else np.zeros(self.p.n, dtype=bool)
            for fname, _ in _char_fields(clause, self.r):
                here[self.p.docs(fname, u)] = True
            weight = share * idf(self.p.doc_count, int(np.count_nonzero(here)))
            covered += here * np.float32(weight)
            total += weight
        return covered / total if total > 0 else covered

    def _synonym_cover(self, clause: Clause, words: tuple[tuple[str, bool, int, int], ...]) -> dict[str, np.ndarray]:
        """For each character of a content word that has synonyms: the
        documents holding one of them as a word."""
        syn = synonyms()
        cover: dict[str, np.ndarray] = {}
        for w, stop, _, _ in words:
            if stop or w not in syn:
                continue
            docs = self._mask(np.concatenate([self.p.docs(fname, other)
                                              for other in syn[w] for fname, _ in _word_fields(clause, self.r)]))
            for ch in w:
                cover[ch] = cover[ch] | docs if ch in cover else docs
        return cover

    def focus(self, clauses: list[Clause], candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Scores with the best :data:`FOCUS_WINDOW` candidates rescored by
        the idf-weighted share of their headline (the title, or the start of
        an untitled record's body) that the query's characters cover: for
        胳膊肘起皮, 胳膊肘起皮还痒 ranks above 胳膊肘起皮搔痒 32岁…要咋治,
        which is about more besides.  Rescoring a window, as
        Elasticsearch's rescore does, reads only a few stored headlines; the
        rest are scaled by the window's lowest factor, so they stay below."""
        wanted = {t for c in _positive_texts(clauses) for t, *_ in char_tokens(norm(c)) if is_han(t)}
        if not self.r.focus or not candidates.size or not wanted:
            return scores
        window = min(FOCUS_WINDOW, candidates.size)
        top = candidates[np.argpartition(-scores[candidates], window - 1)[:window]]
        factors = np.ones(window, dtype=np.float32)
        for i, d in enumerate(top.tolist()):
            weights, total = self.p.headline(d)
            if total:
                got = sum(w for ch, w in weights.items() if ch in wanted)
                factors[i] = max(got / total, FOCUS_FLOOR) ** self.r.focus
        out = scores * factors.min()
        out[top] = scores[top] * factors
        return out

    def run(self, clauses: list[Clause]) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(self.p.n, dtype=np.float32)
        must = None
        should = np.zeros(self.p.n, dtype=bool)
        excluded = np.zeros(self.p.n, dtype=bool)
        for c in clauses:
            if c.is_group:
                score, match = self.run(c.children)
            elif c.occur == NOT:
                excluded |= self.contains(c)
                continue
            else:
                score = bm25(self.p, clause_terms(c, self.r), self.r.k1, self.b_of, self.r.b)
                if self.r.coverage:
                    score *= self.coverage(c) ** self.r.coverage
                match = self.contains(c) if (c.occur == MUST or c.phrase) else score > 0
            if c.occur == NOT:
                excluded |= match
                continue
            total += np.where(match, score, 0)
            if c.occur == MUST or c.phrase:
                must = match if must is None else must & match
            else:
                should |= match
        # Required clauses decide what matches; optional ones only when there are none.
        matched = must if must is not None else should
        return total, matched & ~excluded


def _relax(clauses: list[Clause]) -> list[Clause]:
    """The same clauses with required ones made optional (exclusions stay)."""
    return [Clause(NOT if c.occur == NOT else SHOULD, c.text, False, c.field, _relax(c.children))
            for c in clauses]


def _positive_texts(clauses: list[Clause]) -> Iterator[str]:
    """The text of every clause a result may match (not the excluded ones)."""
    for c in clauses:
        if c.is_group:
            yield from _positive_texts(c.children)
        elif c.occur != NOT:
            yield c.text


def highlight_terms(clauses: list[Clause]) -> list[str]:
    """Normalized strings to light up: each clause's content words, its
    synonyms, and the clause itself (which covers single characters)."""
    terms: set[str] = set()
    for c in clauses:
        if c.is_group:
            terms.update(highlight_terms(c.children))
            continue
        if c.occur == NOT:
            continue
        n = norm(c.text).strip()
        if c.phrase:  # the phrase, and its pieces where it has a gap the text may not have
            terms.add(n)
            terms.update(p for p in re.split(r"[\W_]+", n) if p)
            continue
        words = [w for w, stop, _, _ in clause_words(n) if not stop]
        terms.update(words)
        for w in words:
            terms.update(synonyms().get(w, ()))
        if n and not n.isspace():
            terms.add(n)
    return sorted(terms, key=len, reverse=True)


def parse_date(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a date like 2025-03-31, not {value!r}") from None


# What Whoosh (and our part files, PartError is a ValueError) raise when a
# file is missing, truncated or damaged.
_DAMAGE = (OSError, EOFError, struct.error, zlib.error, pickle.UnpicklingError, KeyError, ValueError)


@contextmanager
def _reading(index_dir: str) -> Iterator[None]:
    from whoosh.index import IndexError as WhooshIndexError
    from whoosh.reading import CorruptIndexError

    try:
        yield
    except (*_DAMAGE, WhooshIndexError, CorruptIndexError) as e:
        raise IndexUnreadableError(
            f"the index at {index_dir} cannot be read ({e.__class__.__name__}); "
            f"rebuild it with: searchkit index --rebuild --index-dir {index_dir}") from None


@dataclass
class Hit:
    id: str
    kind: str
    title: str
    score: float
    date: str | None
    category: str | None
    sources: list[str]
    snippet: str
    highlights: list[tuple[int, int]]
    title_highlights: list[tuple[int, int]] = field(default_factory=list)
    url: str | None = None


@dataclass
class Results:
    query: str
    total: int
    page: int
    limit: int
    hits: list[Hit]
    relaxed: bool = False  # required words/phrases matched nothing and were made optional
    suggestion: str | None = None  # did you mean…, for zero- or low-hit queries
    pinyin: list[str] = field(default_factory=list)  # Hanzi words a pinyin query was read as
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass
class Document:
    """A stored record in full, for ``searchkit show``."""

    id: str
    kind: str
    title: str
    body: str
    date: str | None
    category: str | None
    sources: list[str]
    url: str | None
    disclaimer: str | None


@dataclass
class Stats:
    index_dir: str
    format_version: int
    documents: dict[str, int]
    vocabulary: int
    size_bytes: int
    segments: int
    built: str | None
    sources: list[str]


SORTS = ("relevance", "date")
LOW_HITS = 3  # below this many results, suggest a better query
FOCUS_WINDOW = 20  # the best this many results are rescored by focus
FOCUS_FLOOR = 0.2  # a headline that covers less (or none) of the query counts as covering this much
OPEN_ATTEMPTS = 5
PINYIN_MIN_HITS = 3  # a pinyin-looking query whose letters match fewer documents is read as Hanzi


class SearchIndex:
    """A searchable index.  Open it once and reuse it: the searcher and the
    decoded posting lists are kept between queries."""

    def __init__(self, index_dir: str, ranking: Ranking | None = None):
        self.index_dir = index_dir
        self.ranking = ranking or Ranking()
        self._gen_dir = current_generation(index_dir)
        with _reading(index_dir):
            for attempt in range(OPEN_ATTEMPTS):
                try:
                    self._open()
                    break
                except _DAMAGE:
                    # An update commits a new table of segments and deletes the
                    # old one, and the files of segments it merged: a reader
                    # that listed them a moment before finds them gone.  Read
                    # again; a damaged index fails every time.
                    if attempt == OPEN_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05)
        self._vocab: Vocabulary | None = None
        self._facets: FacetIndex | None = None

    def _open(self) -> None:
        from whoosh import index as whoosh_index

        ix = whoosh_index.open_dir(self._gen_dir)
        searcher = ix.searcher()
        try:
            for reader, _ in searcher.reader().leaf_readers():
                # Whoosh opens a segment's stored column on first use: open it
                # now, while the segment's files are there, and hold it.
                if reader.doc_count_all():
                    try:
                        reader.stored_fields(0)
                    except TypeError:  # Whoosh's way of saying the column file is gone
                        raise FileNotFoundError("a segment's stored fields are missing") from None
            postings = Postings(searcher, self._gen_dir)
        except BaseException:
            searcher.close()
            ix.close()
            raise
        self._ix, self._searcher, self._postings = ix, searcher, postings

    @classmethod
    def open(cls, index_dir: str | None = None, ranking: Ranking | None = None) -> SearchIndex:
        """Open the index at ``index_dir`` (default ``$SEARCHKIT_INDEX`` or
        ``index/``).  Raises IndexMissingError if there is none and
        IndexUnreadableError if it is damaged or from another version."""
        return cls(index_dir or default_index_dir(), ranking)

    def close(self) -> None:
        self._postings.close()
        self._searcher.close()
        self._ix.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._postings.doc_count

    @property
    def vocabulary(self) -> Vocabulary:
        """Built on first use (pinyin, suggestions): a plain search never pays for it."""
        if self._vocab is None:
            with _reading(self.index_dir):
                self._vocab = Vocabulary(self._postings)
        return self._vocab

    @property
    def facet_index(self) -> FacetIndex:
        if self._facets is None:
            with _reading(self.index_dir):
                self._facets = FacetIndex(self._postings, self._searcher)
        return self._facets

    def _filter(self, kind: str | None, since: str | None, until: str | None,
                facets: dict[str, str] | None) -> np.ndarray:
        keep = self._postings.live.copy()
        if kind:
            if kind not in KINDS:
                raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
            mask = np.zeros_like(keep)
            mask[self._postings.docs("kind", kind)] = True
            keep &= mask
        since, until = parse_date(since, "--since"), parse_date(until, "--until")
        if since and until and since > until:
            raise UsageError(f"--since {since} is after --until {until}")
        if since or until:
            mask = np.zeros_like(keep)
            mask[list(self._searcher.docs_for_query(wq.TermRange("date", since, until)))] = True
            keep &= mask
        if facets:
            keep &= self.facet_index.mask(facets)
        return keep

    def _rank(self, clauses: list[Clause]) -> tuple[np.ndarray, np.ndarray]:
        return _Matcher(self._postings, self._searcher, self.ranking).run(clauses)

    def _pinyin(self, query: str, scores: np.ndarray, matched: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Read a pure-letters query as pinyin when its letters match little.
        Letter matches stay ranked above every pinyin match."""
        n = norm(query).strip()
        if not PINYIN_QUERY.match(n) or np.count_nonzero(matched & keep) >= PINYIN_MIN_HITS:
            return scores, matched, []
        words = self.vocabulary.from_pinyin(n)
        if not words:
            return scores, matched, []
        extra, extra_matched = self._rank([Clause(SHOULD, w) for w in words])
        top = float(extra.max()) if extra.size else 0.0
        combined = np.where(matched, scores + top + 1.0, extra)
        return combined.astype(np.float32), matched | extra_matched, words

    def search(self, query: str, limit: int = 10, page: int = 1, kind: str | None = None,
               since: str | None = None, until: str | None = None, snippets: bool = True,
               facets: dict[str, str] | None = None, sort: str = "relevance", suggest: bool = True) -> Results:
        """Ranked hits for ``query`` (see :mod:`searchkit.query` for the
        syntax), filtered by kind, date range and facet values.

        When required words or phrases match nothing, the query is retried
        with them optional (``Results.relaxed``).  A pure-letters query that
        matches little is also read as pinyin (``Results.pinyin``).  With
        ``suggest``, a zero- or low-hit query gets ``Results.suggestion``.
        ``snippets=False`` skips highlighting (evaluation, ids only).
        Raises QuerySyntaxError or UsageError on bad input."""
        if limit < 1 or page < 1:
            raise UsageError("limit and page must be at least 1")
        if sort not in SORTS:
            raise UsageError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
        clauses = parse_query(query)
        if not any(c.is_group or phrase_parts(norm(c.text)) for c in clauses if c.occur != NOT):
            raise QuerySyntaxError("the query has no searchable words (only punctuation or symbols)")
        with _reading(self.index_dir):
            keep = self._filter(kind, since, until, facets)
            scores, matched = self._rank(clauses)
            relaxed = False
            if not np.any(matched & keep) and any(c.occur == MUST or c.phrase for c in clauses):
                clauses = _relax(clauses)
                scores, matched = self._rank(clauses)
                relaxed = True
            scores, matched, pinyin = self._pinyin(query, scores, matched, keep)
            candidates = np.flatnonzero(matched & keep)
            if not pinyin:
                scores = _Matcher(self._postings, self._searcher, self.ranking).focus(clauses, candidates, scores)
            order = self._order(candidates, scores[candidates], sort, page * limit)[(page - 1) * limit:]
            terms = (highlight_terms(clauses) + pinyin) if snippets else []
            hits = [self._hit(int(candidates[i]), float(scores[candidates[i]]), terms, snippets) for i in order]
            counts = self.facet_index.counts(matched & keep) if facets is not None else {}
        suggestion = None
        if suggest and not pinyin and (candidates.size < LOW_HITS or self._unknown_words(clauses)):
            with _reading(self.index_dir):
                suggestion = self.vocabulary.correct(query)
        return Results(query=query, total=int(candidates.size), page=page, limit=limit, hits=hits,
                       relaxed=relaxed, suggestion=suggestion, pinyin=pinyin, facets=counts)

    def _unknown_words(self, clauses: list[Clause]) -> bool:
        """Does a clause hold a Han word no document has (a likely typo)?
        Checked on posting lists, so the vocabulary is built only then."""
        for c in clauses:
            if c.is_group or c.occur == NOT:
                continue
            for w, *_ in word_tokens(norm(c.text)):
                if len(w) > 1 and not w.isascii() and not any(self._postings.docs(f, w).size for f in WORD_FIELDS):
                    return True
        return False

    def _order(self, candidates: np.ndarray, scores: np.ndarray, sort: str, stop: int) -> np.ndarray:
        """Positions (into candidates) of the first ``stop`` results."""
        if sort == "date":  # newest first, then by score; undated last
            return np.lexsort((candidates, -scores, -self.facet_index.date_rank[candidates]))[:stop]
        if candidates.size > stop:
            top = np.argpartition(-scores, stop - 1)[:stop]
        else:
            top = np.arange(candidates.size)
        # Ties break by document number: stable across runs.
        return top[np.lexsort((candidates[top], -scores[top]))]

    def _hit(self, docnum: int, score: float, terms: list[str], snippets: bool) -> Hit:
        stored = self._searcher.stored_fields(docnum)
        text, spans = snippet(stored.get("body", ""), terms) if snippets else ("", [])
        title = stored.get("title", "")
        return Hit(id=stored["id"], kind=stored["kind"], title=title, score=score, date=stored.get("date"),
                   category=stored.get("category"), sources=list(stored.get("sources", [])), snippet=text,
                   highlights=spans, title_highlights=find_spans(title, terms) if snippets else [],
                   url=stored.get("url"))

    def get(self, doc_id: str) -> Document | None:
        with _reading(self.index_dir):
            stored = self._searcher.document(id=doc_id)
        if stored is None:
            return None
        return Document(id=stored["id"], kind=stored["kind"], title=stored.get("title", ""),
                        body=stored.get("body", ""), date=stored.get("date"), category=stored.get("category"),
                        sources=list(stored.get("sources", [])), url=stored.get("url"),
                        disclaimer=stored.get("disclaimer"))

    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Autocomplete: titles and indexed words starting with ``prefix``
        (Hanzi or pinyin letters), most frequent first."""
        if limit < 1:
            raise UsageError("limit must be at least 1")
        return self.vocabulary.complete(prefix, limit)

    def similar(self, doc_id: str, limit: int = 10) -> list[Hit]:
        """Records sharing the key words of ``doc_id`` (its most
        characteristic words by tf-idf, weighted by it), itself excluded.
        Raises UsageError for an unknown id."""
        doc = self.get(doc_id)
        if doc is None:
            raise UsageError(f"no record with id {doc_id!r}")
        keys = self._key_words(doc.title + "\n" + doc.body[:3000])
        if not keys:
            return []
        terms = [(f, w, weight * fb) for w, weight in keys for f, fb in _word_fields(Clause(), self.ranking)]
        with _reading(self.index_dir):
            scores = bm25(self._postings, terms, self.ranking.k1, {"title": self.ranking.title_b}, self.ranking.b)
            self_docs = self._postings.docs("id", doc_id)
            scores[self_docs] = 0
            candidates = np.flatnonzero((scores > 0) & self._postings.live)
            order = self._order(candidates, scores[candidates], "relevance", limit)
            return [self._hit(int(candidates[i]), float(scores[candidates[i]]), [w for w, _ in keys], True)
                    for i in order]

    def _key_words(self, text: str, top: int = 12) -> list[tuple[str, float]]:
        tf: dict[str, int] = {}
        stops = stopwords()
        for w, *_ in word_tokens(norm(text)):
            if len(w) > 1 and w not in stops and not w.isdigit():
                tf[w] = tf.get(w, 0) + 1
        n = max(self._postings.doc_count, 1)
        scored = []
        for w, f in tf.items():
            df = max(self._postings.docs("body", w).size, self._postings.docs("title", w).size)
            if df:
                scored.append((w, f * np.log(1 + n / df)))
        scored.sort(key=lambda x: -x[1])
        best = scored[:top]
        peak = best[0][1] if best else 1.0
        return [(w, s / peak) for w, s in best]

    def stats(self) -> Stats:
        from .indexer import read_manifest

        with _reading(self.index_dir):
            manifest = read_manifest(self._gen_dir, self._ix.latest_generation())
            live = self._postings.live
            documents = {k: int(np.count_nonzero(live[self._postings.docs("kind", k)])) for k in KINDS}
            vocabulary = len(self.vocabulary.df)
            segments = len(self._postings.leaves)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(self._gen_dir) for f in fs)
        return Stats(index_dir=self.index_dir, format_version=FORMAT_VERSION, documents=documents,
                     vocabulary=vocabulary, size_bytes=size, segments=segments, built=manifest.get("built"),
                     sources=sorted(manifest.get("sources", {})))
