"""Ranking: how a parsed query scores every document of an index.

Each text clause of a query becomes a weighted sum of BM25 scores over the
word fields (title above headings above body) and the character fields
(unigrams and bigrams), so a whole-word match always adds to the character
matches it implies.  Question words (什么, 怎么, 吗…) have a weight of their
own, synonyms weigh less than the words a user typed, and a document
covering more of the query's words gains.  The best few results are then rescored by how much of
their headline the query covers (:meth:`Matcher.focus`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .analysis import char_tokens, han_units, is_han
from .query import MUST, NOT, SHOULD, Clause
from .scoring import DENSE_SHARE, Fields, Postings, idf
from .text import norm
from .topk import best
from .words import clause_words, phrase_parts, positive_texts, synonyms

FOCUS_WINDOW = 20  # the best this many results are rescored by focus
FOCUS_FLOOR = 0.2  # a headline that covers less (or none) of the query counts as covering this much
_TINY = np.float32(np.finfo(np.float32).tiny)


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
    stopword: float = _LEARNED["stopword"]  # question and function words (什么, 怎么, 吗…)
    synonym: float = _LEARNED["synonym"]
    coverage: float = _LEARNED["coverage"]  # exponent on the share of the query's words a document has
    focus: float = _LEARNED["focus"]  # exponent on the share of a top document's headline the query covers
    k1: float = _LEARNED["k1"]
    b: float = _LEARNED["b"]
    title_b: float = _LEARNED["title_b"]


def word_fields(clause: Clause, r: Ranking) -> Fields:
    """The word fields a clause is scored in: (name, weight, BM25's b)."""
    title, body = (("title", r.title, r.title_b),), (("headings", r.headings, r.b), ("body", r.body, r.b))
    return {"title": title, "body": body}.get(clause.field or "", title + body)


def _char_fields(clause: Clause, r: Ranking) -> Fields:
    title, body = (("title_chars", r.title_chars, r.title_b),), (("chars", 1.0, r.b),)
    return {"title": title, "body": body}.get(clause.field or "", title + body)


def _char_variants(t: str) -> list[str]:
    """A character n-gram with single-character synonyms swapped in
    (牙疼 -> 牙痛)."""
    syn = synonyms()
    out = []
    for i, ch in enumerate(t):
        out += [t[:i] + other + t[i + 1:] for other in syn.get(ch, ()) if len(other) == 1]
    return out


def clause_terms(clause: Clause, r: Ranking) -> list[tuple[Fields, str, float]]:
    """(fields, term, weight) that score a text clause: its words, their
    synonyms (words and characters, at a lower weight) and its character
    n-grams."""
    n = norm(clause.text)
    weights: dict[tuple[Fields, str], float] = {}
    fields_w, fields_c = word_fields(clause, r), _char_fields(clause, r)

    def add(fields: Fields, text: str, w: float) -> None:
        weights[(fields, text)] = weights.get((fields, text), 0.0) + w

    def add_chars(text: str, w: float, spans: list[tuple[int, int]]) -> None:
        for t, _, s, e in char_tokens(text):
            wt = w * (r.bigram if len(t) == 2 and not t.isascii() else r.unigram)
            if any(a <= s and e <= b for a, b in spans):
                wt *= r.stopword
            add(fields_c, t, wt)
            for v in _char_variants(t):
                add(fields_c, v, wt * r.synonym)

    stop_spans = []
    syn = synonyms()
    for w, stop, s, e in clause_words(n):
        wt = r.stopword if stop else 1.0
        if stop:
            stop_spans.append((s, e))
        add(fields_w, w, wt)
        for other in syn.get(w, ()):
            if len(other) > 1 or len(w) > 1:
                add(fields_w, other, wt * r.synonym)
                add_chars(other, wt * r.synonym, [])
    add_chars(n, 1.0, stop_spans)
    return [(f, t, w) for (f, t), w in weights.items()]


def bm25(postings: Postings, terms: list[tuple[Fields, str, float]], k1: float,
         cache_weighted: bool = True) -> np.ndarray:
    """Sum over (fields, term, weight) of weight * the term's BM25 summed
    over the fields (:meth:`Postings.fields_bm25`), as a new array the
    caller may change.

    A query touches some 10^5 postings, most of them of a few terms in
    most documents (a common character's): those are added as whole
    vectors (:meth:`Postings.dense`), the rest summed by one ``bincount``
    (a scatter-add per term costs about twice as much).  Not
    ``cache_weighted``: the weights are arbitrary (``similar``'s tf-idf),
    so each vector is cached unweighted and multiplied here, as products
    nobody reuses would crowd the cache."""
    docs_of, values = [], []
    dense: list[np.ndarray] = []
    for fields, text, weight in terms:
        docs, part = postings.fields_bm25(text, fields, k1)
        if not docs.size:
            continue
        if docs.size * DENSE_SHARE > postings.n:
            dense.append(postings.dense(text, fields, k1, weight) if cache_weighted
                         else postings.dense(text, fields, k1) * np.float32(weight))
        else:
            docs_of.append(docs)
            values.append(part * np.float32(weight))
    # The vectors summed in order, into a new array (cached ones are shared and read-only).
    if len(dense) > 1:
        whole = dense[0] + dense[1]
        for vec in dense[2:]:
            whole += vec
    elif dense:
        whole = dense[0] if docs_of or dense[0].flags.writeable else dense[0].copy()
    else:
        whole = None
    if not docs_of:
        return np.zeros(postings.n, dtype=np.float32) if whole is None else whole
    # Concatenated straight into the types bincount works in (saves a copy of each).
    out = np.bincount(np.concatenate(docs_of, dtype=np.intp), weights=np.concatenate(values, dtype=np.float64),
                      minlength=postings.n).astype(np.float32)
    if whole is not None:
        out += whole
    return out


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


@lru_cache(maxsize=1024)
def _units(text: str) -> tuple[tuple[str, float], ...]:
    """The units :meth:`Matcher.coverage` counts in normalized clause text,
    each with its share: 1 / the length of the longest content word holding
    it (question and function words hold none).  Cached as :func:`clause_words` is."""
    words = clause_words(text)
    stops = [(s, e) for _, stop, s, e in words if stop]
    content = [(s, e) for _, stop, s, e in words if not stop]
    units: dict[str, float] = {}
    for t, _, s, e in char_tokens(text):
        if (len(t) == 1 or t.isascii()) and not any(a <= s and e <= b for a, b in stops):
            span = 1 if t.isascii() else max([b - a for a, b in content if a <= s and e <= b], default=1)
            units[t] = max(units.get(t, 0.0), 1.0 / span)
    return tuple(units.items())


class Matcher:
    """Evaluates parsed clauses over a whole index at once: a score array
    and a boolean match array per clause, combined as the query says."""

    def __init__(self, postings: Postings, searcher, ranking: Ranking):
        self.p = postings
        self.searcher = searcher
        self.r = ranking

    def contains(self, clause: Clause, exact: bool = True) -> np.ndarray:
        """Documents holding the clause's text as an exact character sequence
        (spaces and punctuation inside it may be any or none); not
        ``exact``: holding all its units and Han bigrams, which for a word
        of a query is near enough and reads no stored text."""
        n = norm(clause.text)
        parts = phrase_parts(n)
        found = np.zeros(self.p.n, dtype=bool)
        if parts:
            for fname, *_ in _char_fields(clause, self.r):
                found[self._sequence(fname, parts, exact)] = True
        return found

    def _sequence(self, fname: str, parts: list[list[str]], exact: bool) -> np.ndarray:
        """Documents whose field holds the parts' units in a row: those with
        all their units and bigrams, checked against the stored text unless
        the grams alone decide it (one unit, or two Han characters) or
        ``exact`` is off."""
        grams = {g for units in parts for g in units}
        grams |= {a + b for units in parts for a, b in zip(units, units[1:]) if is_han(a) and is_han(b)}
        docs = None
        for d in sorted((self.p.docs(fname, g) for g in grams), key=len):  # the rarest first
            if docs is None:
                docs = d
            else:  # both ascending: look the few survivors up in the longer list
                at = np.minimum(np.searchsorted(d, docs), d.size - 1)
                docs = docs[d[at] == docs]
            if not docs.size:
                return docs
        units = parts[0]
        if not exact or (len(parts) == 1 and (len(units) == 1 or (len(units) == 2 and is_han(units[0])
                                                                   and is_han(units[1])))):
            return docs
        pattern = _phrase_pattern(parts)
        stored = "title" if fname == "title_chars" else "body"
        return np.array([d for d in docs.tolist()
                         if pattern.search(norm(self.p.stored(d).get(stored) or ""))], dtype=np.int64)

    def coverage(self, clause: Clause) -> np.ndarray:
        """Share of the clause's content each document holds.  Each query
        word counts as one unit, weighted by the mean idf of its characters
        (missing the disease or the body part costs more than missing a
        common word), and a document holding part of a word covers that part
        of it.  A document holding a synonym of a query word (腹泻 for 拉肚子)
        covers that word."""
        n = norm(clause.text)
        units = _units(n)
        by_synonym = self._synonym_cover(clause, clause_words(n))
        covered = np.zeros(self.p.n, dtype=np.float32)
        total = 0.0
        for u, share in units:
            docs = self._unit_docs(clause, u)
            if u in by_synonym:
                here = by_synonym[u].copy()
                here[docs] = True
                weight = share * idf(self.p.doc_count, int(np.count_nonzero(here)))
                covered += here * np.float32(weight)
            else:  # a common character's documents are added as a cached vector
                weight = share * idf(self.p.doc_count, docs.size)
                if docs.size * DENSE_SHARE > self.p.n:
                    held = self.p.vector(("unit", u, clause.field), lambda: self.p.spread(docs, 1.0))
                    covered += held * np.float32(weight)
                else:
                    covered[docs] += np.float32(weight)
            total += weight
        return covered / total if total > 0 else covered

    def _unit_docs(self, clause: Clause, unit: str) -> np.ndarray:
        """Documents holding a character in any of the clause's character
        fields, as one cached index array: one scatter, not one per field."""
        key = ("unit", unit, clause.field)
        docs = self.p.recall(key)
        if docs is None:
            found = [self.p.docs(fname, unit) for fname, *_ in _char_fields(clause, self.r)]
            docs = self.p.remember(key, np.unique(np.concatenate(found)).astype(np.intp))
        return docs

    def _synonym_cover(self, clause: Clause, words: tuple[tuple[str, bool, int, int], ...]) -> dict[str, np.ndarray]:
        """For each character of a content word that has synonyms: the
        documents holding one of them as a word."""
        syn = synonyms()
        cover: dict[str, np.ndarray] = {}
        for w, stop, _, _ in words:
            if stop or w not in syn:
                continue
            docs = self.p.mask(np.concatenate([self.p.docs(fname, other)
                                              for other in syn[w] for fname, *_ in word_fields(clause, self.r)]))
            for ch in w:
                cover[ch] = cover[ch] | docs if ch in cover else docs
        return cover

    def focus(self, clauses: list[Clause], pool: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Scores with the best :data:`FOCUS_WINDOW` candidates rescored by
        the idf-weighted share of their headline (the title, or the start of
        an untitled record's body) that the query's characters cover: for
        胳膊肘起皮, 胳膊肘起皮还痒 ranks above 胳膊肘起皮搔痒 32岁…要咋治,
        which is about more besides.  Rescoring a window, as
        Elasticsearch's rescore does, reads only a few stored headlines; the
        rest are scaled by the window's lowest factor, so they stay below."""
        wanted = set().union(*(han_units(norm(c)) for c in positive_texts(clauses)))
        if not self.r.focus or not wanted:
            return scores
        top = best(scores, pool, FOCUS_WINDOW)
        if not top.size:
            return scores
        factors = np.ones(top.size, dtype=np.float32)
        for i, d in enumerate(top.tolist()):
            _, weights, total = self.p.headline(d)
            if total:
                got = math.fsum(weights[ch] for ch in weights.keys() & wanted)  # exact: a set has no fixed order
                factors[i] = max(got / total, FOCUS_FLOOR) ** self.r.focus
        out = scores * factors.min()
        out[top] = scores[top] * factors
        return out

    def holds(self, clauses: list[Clause]) -> np.ndarray:
        """Documents containing what the clauses say, as exact text combined
        by their operators: what an exclusion removes, alone or in a group
        (``NOT (北京)`` removes 北京 pages, not every page with 京)."""
        must, should = None, np.zeros(self.p.n, dtype=bool)
        excluded = np.zeros(self.p.n, dtype=bool)
        for c in clauses:
            m = self.holds(c.children) if c.is_group else self.contains(c)
            if c.occur == NOT:
                excluded |= m
            elif c.occur == MUST or c.phrase:
                must = m if must is None else must & m
            else:
                should |= m
        return (must if must is not None else should) & ~excluded

    def holds_word(self, word: Clause) -> np.ndarray:
        """Documents holding a query word whole, or one of its synonyms
        (ascending; cached with the posting lists: words recur across queries)."""
        key = ("holds", word.text, word.field)
        docs = self.p.recall(key)
        if docs is None:
            found = self.contains(word, exact=False)
            for other in synonyms().get(word.text, ()):
                found |= self.contains(Clause(SHOULD, other, False, word.field), exact=False)
            docs = self.p.remember(key, np.flatnonzero(found))
        return docs

    def run(self, clauses: list[Clause]) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(self.p.n, dtype=np.float32)
        must = None
        should = np.zeros(self.p.n, dtype=bool)
        excluded = np.zeros(self.p.n, dtype=bool)
        for c in clauses:
            if c.occur == NOT:
                excluded |= self.holds([Clause(SHOULD, c.text, c.phrase, c.field, c.children)])
                continue
            if c.is_group:
                score, match = self.run(c.children)
            else:
                score = bm25(self.p, clause_terms(c, self.r), self.r.k1)
                if self.r.coverage:  # share ** coverage; NumPy's vector power falls back to a slow
                    share = self.coverage(c)  # scalar loop for a 0 or 1: raise zeros as tiny, zero them after
                    score *= np.maximum(share, _TINY) ** self.r.coverage * (share > 0)
                match = self.contains(c) if (c.occur == MUST or c.phrase) else score > 0
            total += score * match  # scores are finite and never negative: as np.where(match, score, 0), faster
            if c.occur == MUST or c.phrase:
                must = match if must is None else must & match
            else:
                should |= match
        # Required clauses decide what matches; optional ones only when there are none.
        matched = must if must is not None else should
        return total, matched & ~excluded
