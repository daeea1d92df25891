"""The words of a parsed query: each clause's words (question and function
words marked), their synonyms, exact phrases as unit sequences, and what a
result is expected to hold whole or to light up.  Ranking, reranking,
highlighting and the partial-match split all read a query through these."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

from .analysis import char_tokens, data_lines, text_words
from .query import MUST, NOT, SHOULD, Clause
from .text import norm


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


@lru_cache(maxsize=1024)
def clause_words(text: str) -> tuple[tuple[str, bool, int, int], ...]:
    """(word, is_stop, start, end) of normalized clause text: question and
    function words are marked to weigh apart (``Ranking.stopword``), unless
    nothing else is there.
    Cached: scoring, coverage and highlighting each ask for a clause's words."""
    words = [(w, s, e) for w, _, s, e in text_words(text)]
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


def requires(clauses: list[Clause]) -> bool:
    """Does any clause, in a group too, have to match (AND, +, a phrase)?"""
    return any((c.occur != NOT and (c.occur == MUST or c.phrase)) or (c.occur != NOT and requires(c.children))
               for c in clauses)


def relax(clauses: list[Clause]) -> list[Clause]:
    """The same clauses with required ones made optional (exclusions stay)."""
    return [Clause(NOT if c.occur == NOT else SHOULD, c.text, False, c.field, relax(c.children))
            for c in clauses]


def positive_texts(clauses: list[Clause]) -> Iterator[str]:
    """The text of every clause a result may match (not the excluded ones)."""
    for c in clauses:
        if c.occur == NOT:
            continue
        if c.is_group:
            yield from positive_texts(c.children)
        else:
            yield c.text


def query_words(clauses: list[Clause], longest: bool = True) -> list[Clause]:
    """The words a result is expected to hold whole, as clauses: each
    positive clause's content words that are not part of a longer one
    (医保卡, not also 医保), a phrase as one; not ``longest``: those parts
    too (月经 and 经期 of 月经期)."""
    out: dict[tuple, Clause] = {}
    for c in clauses:
        if c.occur == NOT:
            continue
        if c.is_group:
            out.update({(w.text, w.field): w for w in query_words(c.children, longest)})
            continue
        n = norm(c.text).strip()
        if c.phrase:
            out[(n, c.field)] = Clause(SHOULD, n, True, c.field)
            continue
        words = [(w, s, e) for w, stop, s, e in clause_words(n) if not stop]
        for w, s, e in words:
            if not longest or not any(a <= s and e <= b and b - a > e - s for _, a, b in words):
                out.setdefault((w, c.field), Clause(SHOULD, w, False, c.field))
    return list(out.values())


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
