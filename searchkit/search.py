"""Searching an index: ``SearchIndex``, the library's public API.

One ``SearchIndex`` may be shared by any number of threads: what it reads
is immutable once open, its caches are locked, and every call into Whoosh's
readers goes through one lock held only for that call
(:class:`scoring.Postings`).  How documents are scored lives in
:mod:`searchkit.ranking`.
"""

from __future__ import annotations

import datetime
import functools
import os
import pickle
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from whoosh import query as wq

from .analysis import char_tokens, text_words, word_tokens
from .errors import IndexClosedError, IndexUnreadableError, QuerySyntaxError, UsageError
from .facets import FacetIndex, parse_date
from .highlight import find_spans, snippet
from .layout import current_generation, default_index_dir
from .pages import KINDS
from .perdoc import hold_stored_fields
from .postings import PartError
from .query import NOT, SHOULD, Clause, parse_query
from .ranking import Matcher, Ranking, bm25, word_fields
from .rerank import Reranker, shipped
from .results import Document, Hit, Results, Stats  # noqa: F401 - the public API, importable from here
from .schema import FORMAT_VERSION, WORD_FIELDS
from .scoring import Postings, headline_text, idf
from .suggest import Suggestion, Vocabulary, read_pinyin, read_pinyin_clauses
from .text import asks_ascii, folded_for, norm
from .topk import best, holding
from .words import highlight_terms, query_words, relax, requires, stopwords


# What reading a missing, truncated or damaged file raises (PartError is
# ours).  Anything else is a bug to see, not an index to rebuild.
_DAMAGE = (OSError, EOFError, struct.error, zlib.error, pickle.UnpicklingError, PartError)
# Opening reads every segment's table, schema and codec: whatever fails there
# (unpickling raises most anything) means unreadable files.
_OPEN_DAMAGE = (*_DAMAGE, KeyError, ValueError, AttributeError, ImportError)


@contextmanager
def _reading(index_dir: str, opening: bool = False) -> Iterator[None]:
    from whoosh.index import IndexError as WhooshIndexError
    from whoosh.reading import CorruptIndexError

    try:
        yield
    except (*(_OPEN_DAMAGE if opening else _DAMAGE), WhooshIndexError, CorruptIndexError) as e:
        raise IndexUnreadableError(index_dir, f"the index at {index_dir} cannot be read "
                                              f"({e.__class__.__name__})") from None


SORTS = ("relevance", "date")
LOW_HITS = 3  # below this many results, suggest a better query
OPEN_ATTEMPTS = 5


def _in_use(method):
    """A public call is one use of the index: a closed index refuses it, and
    close() waits until the uses in flight are done."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._state:
            self._check_open()
            self._uses += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            with self._state:
                self._uses -= 1
                if not self._uses:
                    self._state.notify_all()
    return call


class SearchIndex:
    """A searchable index.  Open it once and reuse it: the searcher and the
    decoded posting lists are kept between queries."""

    def __init__(self, index_dir: str, ranking: Ranking | None = None, rerank: bool = True):
        self.index_dir = index_dir
        self.ranking = ranking or Ranking()
        self.reranker: Reranker | None = shipped() if rerank else None  # None: the first-stage order
        self._gen_dir = current_generation(index_dir)
        with _reading(index_dir, opening=True):
            for attempt in range(OPEN_ATTEMPTS):
                try:
                    self._open()
                    break
                except _OPEN_DAMAGE:
                    # An update commits a new table of segments and deletes the
                    # old one, and the files of segments it merged: a reader
                    # that listed them a moment before finds them gone.  Read
                    # again; a damaged index fails every time.
                    if attempt == OPEN_ATTEMPTS - 1:
                        raise
                    time.sleep(0.05)
        self._vocab: Vocabulary | None = None
        self._facets: FacetIndex | None = None
        self._closed = False
        self._uses = 0  # public calls in flight: close() waits for them
        self._state = threading.Condition()

    def _open(self) -> None:
        from whoosh import index as whoosh_index

        ix = whoosh_index.open_dir(self._gen_dir)
        searcher = ix.searcher()
        try:
            hold_stored_fields(searcher.reader())
            postings = Postings(searcher)
        except BaseException:
            searcher.close()
            ix.close()
            raise
        self._ix, self._searcher, self._postings = ix, searcher, postings

    @classmethod
    def open(cls, index_dir: str | None = None, ranking: Ranking | None = None, rerank: bool = True) -> SearchIndex:
        """Open the index at ``index_dir`` (default ``$SEARCHKIT_INDEX`` or
        ``index/``).  Raises IndexMissingError if there is none and
        IndexUnreadableError if it is damaged or from another version."""
        return cls(index_dir or default_index_dir(), ranking, rerank)

    def close(self) -> None:
        """Release the index's files, once the calls in flight in other
        threads are done; a second call does nothing."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            while self._uses:
                self._state.wait()
        self._searcher.close()
        self._ix.close()

    def _check_open(self) -> None:
        if self._closed:
            raise IndexClosedError(f"the index at {self.index_dir} is closed; open it again with SearchIndex.open")

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def whoosh_index(self):
        """The current generation as a ``whoosh.index.Index``: Whoosh's
        query parser, searcher, highlighter and writer work on it (pass
        ``codec=searchkit.codec.SearchkitCodec()`` to ``writer()`` to keep
        new segments in the fast format)."""
        self._check_open()
        return self._ix

    def __len__(self) -> int:
        return self._postings.doc_count

    @property
    def vocabulary(self) -> Vocabulary:
        """Built on first use (pinyin, suggestions): a plain search never pays for it."""
        self._check_open()
        if self._vocab is None:
            with _reading(self.index_dir), self._postings.whoosh():
                if self._vocab is None:
                    self._vocab = Vocabulary(self._postings)
        return self._vocab

    @property
    def facet_index(self) -> FacetIndex:
        self._check_open()
        if self._facets is None:
            with _reading(self.index_dir), self._postings.whoosh():
                if self._facets is None:
                    self._facets = FacetIndex(self._postings, self._searcher)
        return self._facets

    def _filter(self, kind: str | None, since: str | datetime.date | None, until: str | datetime.date | None,
                facets: dict[str, str | list[str]] | None) -> np.ndarray:
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
            with self._postings.whoosh():
                mask[list(self._searcher.docs_for_query(wq.TermRange("date", since, until)))] = True
            keep &= mask
        if facets:
            keep &= self.facet_index.mask(facets)
        return keep

    def _rank(self, clauses: list[Clause]) -> tuple[np.ndarray, np.ndarray]:
        return Matcher(self._postings, self._searcher, self.ranking).run(clauses)

    def _from_pinyin(self, letters: str) -> list[str]:
        return self.vocabulary.from_pinyin(letters)  # the vocabulary is built only when a query needs it

    @_in_use
    def search(self, query: str, limit: int = 10, page: int = 1, kind: str | None = None,
               since: str | datetime.date | None = None, until: str | datetime.date | None = None,
               snippets: bool = True, facets: dict[str, str | list[str]] | None = None, sort: str = "relevance",
               suggest: bool = True, partial: bool = True) -> Results:
        """Ranked hits for ``query`` (see :mod:`searchkit.query` for the
        syntax), filtered by kind, date range and facet values (``{"city":
        ["北京", "南京"]}``: values of one facet OR-ed, facets AND-ed).

        A hit that holds none of the query's words whole (nor a synonym),
        only some of their characters, is a *partial match*: partial matches
        rank after all others, are counted apart (``Results.partial``; not
        in ``total``) and left out with ``partial=False``.  Each hit lists
        the query words it lacks (``Hit.missing``).  When only partial
        matches are found and the did-you-mean finds full ones, those are
        returned instead (``Results.corrected``).

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
        if not any(c.is_group or next(char_tokens(norm(c.text)), None) for c in clauses if c.occur != NOT):
            raise QuerySyntaxError("the query has no searchable words (only punctuation or symbols)")
        with _reading(self.index_dir):
            keep = self._filter(kind, since, until, facets)
            plain = all(c.occur == SHOULD and not (c.phrase or c.field or c.is_group) for c in clauses)
            clauses, pinyin = ((clauses, []) if plain else
                               read_pinyin_clauses(clauses, keep, self._from_pinyin, self._rank))
            scores, matched = self._rank(clauses)
            relaxed = False
            if not np.any(matched & keep) and requires(clauses):
                clauses = relax(clauses)
                scores, matched = self._rank(clauses)
                relaxed = True
            if plain:
                scores, matched, pinyin = read_pinyin(query, scores, matched, keep, self._from_pinyin, self._rank)
            pool = matched & keep
            matcher = Matcher(self._postings, self._searcher, self.ranking)
            # A query read as pinyin as a whole has no words to rescore, rerank or hold whole.
            whole_pinyin = plain and bool(pinyin)
            if not whole_pinyin:
                scores = matcher.focus(clauses, pool, scores)
            words = [] if whole_pinyin else query_words(clauses)
            has = [matcher.holds_word(w) for w in words]  # the documents holding each
            # Holding a part of a longer query word whole (月经 of 月经期) is no partial match.
            held = has + [matcher.holds_word(w) for w in ([] if whole_pinyin else query_words(clauses, False))
                          if w not in words]
            whole = pool & self._postings.mask(np.concatenate(held)) if held else pool
            part = pool & ~whole if partial else np.zeros_like(pool)
            full = int(np.count_nonzero(whole))
            if self.reranker and sort == "relevance" and not whole_pinyin:
                scores = self.reranker.rerank(self._postings, clauses, whole, scores)
            order = self._order(whole, part, scores, sort, page * limit)[(page - 1) * limit:]
            terms = (highlight_terms(clauses) + pinyin) if snippets else []
            # Snippets show the passage covering most of the query's words, the rarer weighing more.
            weighted = ([(w.text, idf(self._postings.doc_count, docs.size)) for w, docs in zip(words, has)]
                        if snippets else [])
            lacking = [(w.text, ~holding(order, docs)) for w, docs in zip(words, has)]
            hits = []
            for i, d in enumerate(order.tolist()):
                hit = self._hit(d, float(scores[d]), terms, snippets, weighted)
                hit.missing = [w for w, lacks in lacking if lacks[i]]
                hit.partial = bool(part[d])
                hits.append(hit)
            # What `total` counts: the full matches, or the partial ones when there are no others.
            counts = {} if facets is None else self.facet_index.counts(whole if full else whole | part)
        suggestion = None
        if suggest and not pinyin and (full < LOW_HITS or self._unknown_words(clauses)):
            with _reading(self.index_dir):
                suggestion = self.vocabulary.correct(query)
        if suggestion and not full:
            better = self.search(suggestion, limit, page, kind, since, until, snippets, facets, sort, False, partial)
            if better.total:
                better.query, better.corrected, better.suggestion = query, suggestion, suggestion
                return better
        return Results(query=query, total=full, page=page, limit=limit, hits=hits, relaxed=relaxed,
                       suggestion=suggestion, pinyin=pinyin, facets=counts,
                       partial=int(np.count_nonzero(part)))

    def _unknown_words(self, clauses: list[Clause]) -> bool:
        """Does a clause hold a Han word no document has (a likely typo)?
        Checked on posting lists, so the vocabulary is built only then."""
        for c in clauses:
            if c.is_group or c.occur == NOT:
                continue
            for w, *_ in text_words(norm(c.text)):
                if len(w) > 1 and not w.isascii() and not any(self._postings.docs(f, w).size for f in WORD_FIELDS):
                    return True
        return False

    def _order(self, pool: np.ndarray, last: np.ndarray | None, scores: np.ndarray, sort: str,
               stop: int) -> np.ndarray:
        """The first ``stop`` documents of ``pool`` then of ``last`` (masks;
        the partial matches, or None), best first."""
        if sort == "date":  # newest first, then by score; undated last
            docs = np.flatnonzero(pool if last is None else pool | last)
            late = np.zeros(docs.size, dtype=bool) if last is None else last[docs]
            return docs[np.lexsort((docs, -scores[docs], -self.facet_index.date_rank[docs], late))[:stop]]
        first = best(scores, pool, stop)
        if last is None or first.size == stop:
            return first
        return np.concatenate([first, best(scores, last, stop - first.size)])

    def _hit(self, docnum: int, score: float, terms: list[str], snippets: bool,
             words: list[tuple[str, float]] | None = None) -> Hit:
        stored = self._postings.record(docnum)
        text, spans = self._snippet(docnum, stored.get("body", ""), terms, words) if snippets else ("", [])
        title = stored.get("title", "")
        headline = headline_text(stored)
        lit = find_spans(headline, terms, self._postings.recall(("headline folded", docnum))) if snippets else []
        return Hit(id=stored["id"], kind=stored["kind"], title=title, score=score, date=stored.get("date"),
                   category=stored.get("category"), sources=list(stored.get("sources", [])), snippet=text,
                   highlights=spans, title_highlights=lit, url=stored.get("url"), headline=headline)

    def _snippet(self, docnum: int, body: str, terms: list[str],
                 words: list[tuple[str, float]] | None) -> tuple[str, list[tuple[int, int]]]:
        """:func:`highlight.snippet`, the body folded once per document (and
        kind of needles) and cached beside the record."""
        needles = terms + [w for w, _ in words or []]
        key = ("body folded", docnum, asks_ascii(needles))
        folded = self._postings.recall(key)
        if folded is None:
            folded = self._postings.remember(key, folded_for(body, needles, bool(self._postings.simplified[docnum])))
        return snippet(folded, terms, words)

    @_in_use
    def get(self, doc_id: str) -> Document | None:
        with _reading(self.index_dir), self._postings.whoosh():
            stored = self._searcher.document(id=doc_id)
        if stored is None:
            return None
        return Document(id=stored["id"], kind=stored["kind"], title=stored.get("title", ""),
                        body=stored.get("body", ""), date=stored.get("date"), category=stored.get("category"),
                        sources=list(stored.get("sources", [])), url=stored.get("url"),
                        disclaimer=stored.get("disclaimer"))

    @_in_use
    def suggest(self, prefix: str, limit: int = 10) -> list[Suggestion]:
        """Autocomplete: titles and indexed words starting with ``prefix``
        (Hanzi or pinyin letters), most frequent first."""
        if limit < 1:
            raise UsageError("limit must be at least 1")
        return self.vocabulary.complete(prefix, limit)

    @_in_use
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
        fields = word_fields(Clause(), self.ranking)
        with _reading(self.index_dir):
            scores = bm25(self._postings, [(fields, w, weight) for w, weight in keys], self.ranking.k1,
                          cache_weighted=False)
            self_docs = self._postings.docs("id", doc_id)
            scores[self_docs] = 0
            order = self._order((scores > 0) & self._postings.live, None, scores, "relevance", limit)
            return [self._hit(d, float(scores[d]), [w for w, _ in keys], True, keys) for d in order.tolist()]

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

    @_in_use
    def stats(self) -> Stats:
        from .layout import read_manifest

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
