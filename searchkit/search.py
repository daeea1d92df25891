"""Searching an index: ``SearchIndex``, query building and ranking.

Each text clause of a query becomes a weighted disjunction over the word
fields (title above headings above body) and the character fields (bigrams
above unigrams, both below whole words), scored by BM25F.  Question words
(什么, 怎么, 吗…) weigh less, synonyms weigh less than the words a user
typed, and character-level matches only ever add to word matches.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator

from whoosh import query as wq
from whoosh.scoring import BM25F

from .analysis import char_tokens, data_lines, word_tokens
from .errors import IndexUnreadableError, QuerySyntaxError, UsageError
from .highlight import find_spans, snippet
from .indexer import current_generation, default_index_dir
from .pages import KINDS
from .query import MUST, NOT, SHOULD, Clause, parse_query
from .text import norm


@dataclass(frozen=True)
class Ranking:
    """Weights of the ranking function (tuned on the dev judgments with
    ``searchkit eval``)."""

    title: float = 2.0
    headings: float = 1.5
    body: float = 1.0
    bigram: float = 0.6
    unigram: float = 0.25
    title_chars: float = 1.5
    stopword: float = 0.2
    synonym: float = 0.5
    k1: float = 1.2
    b: float = 0.75
    title_b: float = 0.5

    def weighting(self) -> BM25F:
        return BM25F(B=self.b, K1=self.k1, title_B=self.title_b, title_chars_B=self.title_b)


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


def clause_words(text: str) -> list[tuple[str, float, int, int]]:
    """(word, weight, start, end) of normalized clause text: question and
    function words weigh less, unless nothing else is there."""
    words = list(word_tokens(text))
    stops = stopwords()
    content = any(w not in stops for w, *_ in words)
    return [(w, 0.2 if (content and w in stops) else 1.0, s, e) for w, _, s, e in words]


def _expansion(clause: Clause, r: Ranking) -> wq.Query | None:
    n = norm(clause.text)
    weights: dict[tuple[str, str], float] = {}

    def add(fieldname: str, text: str, w: float) -> None:
        weights[(fieldname, text)] = weights.get((fieldname, text), 0.0) + w

    stop_spans = []
    syn = synonyms()
    for w, wt, s, e in clause_words(n):
        if wt < 1.0:
            stop_spans.append((s, e))
            wt = r.stopword
        for fname, fb in _word_fields(clause, r):
            add(fname, w, wt * fb)
            for other in syn.get(w, ()):
                add(fname, other, wt * fb * r.synonym)
    for t, _, s, e in char_tokens(n):
        wt = r.bigram if len(t) == 2 and not t.isascii() else r.unigram
        if any(a <= s and e <= b for a, b in stop_spans):
            wt *= r.stopword
        for fname, fb in _char_fields(clause, r):
            add(fname, t, wt * fb)
    if not weights:
        return None
    return wq.Or([wq.Term(f, t, boost=w) for (f, t), w in weights.items()])


def _phrase(fieldname: str, text: str) -> wq.Query | None:
    """Exact character sequence; a gap (punctuation, space) splits it into
    parts that must all be present."""
    parts: list[list[str]] = [[]]
    last = None
    for t, pos, _, _ in char_tokens(text):
        if len(t) == 2 and not t.isascii():
            continue  # bigrams: unigrams alone define the sequence
        if last is not None and pos != last + 1:
            parts.append([])
        parts[-1].append(t)
        last = pos
    qs = [wq.Term(fieldname, p[0]) if len(p) == 1 else wq.Phrase(fieldname, p) for p in parts if p]
    if not qs:
        return None
    return qs[0] if len(qs) == 1 else wq.And(qs)


def _contains(clause: Clause, r: Ranking) -> wq.Query | None:
    n = norm(clause.text)
    qs = [q for fname, _ in _char_fields(clause, r) if (q := _phrase(fname, n)) is not None]
    return wq.Or(qs) if len(qs) > 1 else (qs[0] if qs else None)


def build_query(clauses: list[Clause], r: Ranking) -> wq.Query | None:
    musts, shoulds, nots = [], [], []
    for c in clauses:
        if c.is_group:
            scored = match = build_query(c.children, r)
        else:
            match = _contains(c, r) if (c.occur != SHOULD or c.phrase) else None
            scored = _expansion(c, r) if c.occur != NOT else None
            if match is not None and scored is not None:
                # And, not Require: Whoosh's RequireMatcher trips an assertion
                # under block-quality skipping.  The match adds (almost) no score.
                scored = wq.And([scored, match.with_boost(1e-6)])
        if c.occur == NOT:
            if match is not None:
                nots.append(match)
        elif scored is not None:
            (musts if c.occur == MUST or c.phrase else shoulds).append(scored)
        elif c.occur == MUST:
            return wq.NullQuery  # a required clause with nothing searchable matches nothing
    if musts:
        q = wq.And(musts) if len(musts) > 1 else musts[0]
        if shoulds:
            q = wq.AndMaybe(q, wq.Or(shoulds))
    elif shoulds:
        q = wq.Or(shoulds) if len(shoulds) > 1 else shoulds[0]
    else:
        return None
    if nots:
        q = wq.AndNot(q, wq.Or(nots))
    return q


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
        if c.phrase:
            terms.add(n)
            continue
        words = [w for w, wt, _, _ in clause_words(n) if wt == 1.0]
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


class SearchIndex:
    """A searchable index.  Open it once and reuse it: the searcher and its
    caches are kept between queries."""

    def __init__(self, index_dir: str, ranking: Ranking | None = None):
        from whoosh import index as whoosh_index

        self.index_dir = index_dir
        self.ranking = ranking or Ranking()
        gen_dir = current_generation(index_dir)
        try:
            self._ix = whoosh_index.open_dir(gen_dir)
            self._searcher = self._ix.searcher(weighting=self.ranking.weighting())
        except Exception as e:  # whoosh raises many kinds on damaged files
            raise IndexUnreadableError(
                f"the index at {index_dir} cannot be read ({e.__class__.__name__}); "
                f"rebuild it with: searchkit index --rebuild --index-dir {index_dir}") from None

    @classmethod
    def open(cls, index_dir: str | None = None, ranking: Ranking | None = None) -> SearchIndex:
        """Open the index at ``index_dir`` (default ``$SEARCHKIT_INDEX`` or
        ``index/``).  Raises IndexMissingError if there is none and
        IndexUnreadableError if it is damaged or from another version."""
        return cls(index_dir or default_index_dir(), ranking)

    def close(self) -> None:
        self._searcher.close()
        self._ix.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._searcher.doc_count()

    def _filter(self, kind: str | None, since: str | None, until: str | None) -> wq.Query | None:
        parts = []
        if kind:
            if kind not in KINDS:
                raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
            parts.append(wq.Term("kind", kind))
        since, until = parse_date(since, "--since"), parse_date(until, "--until")
        if since and until and since > until:
            raise UsageError(f"--since {since} is after --until {until}")
        if since or until:
            parts.append(wq.TermRange("date", since, until))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else wq.And(parts)

    def search(self, query: str, limit: int = 10, page: int = 1, kind: str | None = None,
               since: str | None = None, until: str | None = None) -> Results:
        """Ranked hits for ``query`` (see :mod:`searchkit.query` for the
        syntax).  Raises QuerySyntaxError or UsageError on bad input."""
        if limit < 1 or page < 1:
            raise UsageError("limit and page must be at least 1")
        clauses = parse_query(query)
        q = build_query(clauses, self.ranking)
        if q is None:
            raise QuerySyntaxError("the query has no searchable words (only punctuation or symbols)")
        flt = self._filter(kind, since, until)
        results = self._searcher.search_page(q, page, pagelen=limit, filter=flt)
        terms = highlight_terms(clauses)
        hits = []
        for hit in results:
            stored = hit.fields()
            text, spans = snippet(stored.get("body", ""), terms)
            title = stored.get("title", "")
            hits.append(Hit(
                id=stored["id"], kind=stored["kind"], title=title, score=float(hit.score),
                date=stored.get("date"), category=stored.get("category"),
                sources=list(stored.get("sources", [])), snippet=text, highlights=spans,
                title_highlights=find_spans(title, terms), url=stored.get("url"),
            ))
        return Results(query=query, total=results.total, page=page, limit=limit, hits=hits)

    def get(self, doc_id: str) -> Document | None:
        stored = self._searcher.document(id=doc_id)
        if stored is None:
            return None
        return Document(id=stored["id"], kind=stored["kind"], title=stored.get("title", ""),
                        body=stored.get("body", ""), date=stored.get("date"), category=stored.get("category"),
                        sources=list(stored.get("sources", [])), url=stored.get("url"),
                        disclaimer=stored.get("disclaimer"))

    def ids(self) -> Iterator[str]:
        for stored in self._searcher.all_stored_fields():
            yield stored["id"]


def index_exists(index_dir: str) -> bool:
    return os.path.exists(os.path.join(index_dir, "CURRENT"))
