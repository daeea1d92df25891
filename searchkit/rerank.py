"""Learned reranking of the best few results.

The first-stage ranking (:mod:`searchkit.ranking`) scores every document by
BM25 over words and characters.  Its best :attr:`Reranker.window` full
matches are then reordered by a small gradient-boosted tree model (fitted on
the train split's judgments by ``tools/train_rerank.py``, shipped as
``data/rerank.json``) over features that compare the query with each
headline as a whole: how much of the query's rarer characters and words the
headline holds, how much of the headline the query explains (and spells out
in its order), where the match starts, which letters and digits (numbers,
units) the headline adds, whether the query characters a headline lacks have
near stand-ins in it (character vectors learned from unlabelled text,
``data/char_vectors.npz``), whether what the headline has in place of the
query characters it lacks has gone with relevance before, whether the
characters it adds to the query and the query characters it lacks have
(:mod:`searchkit.lifts`, ``data/translations.txt``), and whether both ask
the same kind of question (treatment, cause, yes/no…).  Features describe a
query and a headline, never which query or which document it is, so
nothing learned is a lookup of the judgments.

The model runs in NumPy: every tree is a few arrays, walked for all
candidates at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable

import numpy as np

from .analysis import data_lines, han_units, is_han
from .lifts import LIFTED, Translations, lifted, table_codes, translations
from .query import Clause
from .scoring import Postings, idf
from .text import norm
from .topk import best
from .words import clause_words, positive_texts, stopwords, synonyms

FEATURES = ("score", "query_chars", "headline_chars", "words", "extra_stops", "first", "length",
            "kinds_both", "kinds_query", "kinds_headline", "near_missing", "subsequence", "extra_symbols") + LIFTED
LIFTED_COLUMNS = [FEATURES.index(f) for f in LIFTED]


@lru_cache(maxsize=1)
def intents() -> tuple[re.Pattern, ...]:
    return tuple(re.compile(line.split(None, 1)[1].strip()) for line in data_lines("intents.txt"))


def question_words(text: str) -> frozenset[str]:
    """The question and function words a text holds, found as substrings:
    segmenting every headline would cost more than the rest of its features."""
    return frozenset(w for w in stopwords() if w in text)


def kinds(text: str) -> int:
    """The kinds of question a text asks, as bits (:func:`intents`)."""
    return sum(1 << i for i, p in enumerate(intents()) if p.search(text))


@lru_cache(maxsize=1)
def char_vectors() -> tuple[dict[str, int], np.ndarray]:
    """Unit vectors of characters, close for characters used alike (built
    from unlabelled text by ``tools/train_char_vectors.py``): each
    character's row, and the rows."""
    with resources.files("searchkit").joinpath("data", "char_vectors.npz").open("rb") as f:
        z = np.load(f)
        return {ch: i for i, ch in enumerate(z["chars"].tolist())}, z["vectors"].astype(np.float32)


def _vector_rows(chars: Iterable[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Those of ``chars`` that have a vector, and their rows in :func:`char_vectors`."""
    at = char_vectors()[0]
    known = tuple(ch for ch in chars if ch in at)
    return known, np.array([at[ch] for ch in known], dtype=np.int64)


_COSINES: dict[int, np.ndarray] = {}  # a row of char_vectors -> its cosine with every row


@lru_cache(maxsize=1)
def _vectors64() -> np.ndarray:
    return char_vectors()[1].astype(np.float64)


def cosines(rows: list[int]) -> np.ndarray:
    """Characters' cosines with every character that has a vector, a row
    each, computed once per character (a query's characters recur; all of
    them would take ~30 MB): a window reads its headlines' characters out
    of them instead of multiplying their vectors.  Summed in float64, then
    rounded to float32: whichever BLAS kernel or shape of product computes
    a value, it rounds alike but for a vanishing few, so that training
    reproduces the model; the new ones of a query in one product, in pieces
    small enough to stay on one BLAS thread (:data:`_ONE_THREAD`)."""
    new = [r for r in dict.fromkeys(rows) if r not in _COSINES]
    if new:
        vectors = _vectors64()
        theirs = vectors[new].T
        step = max(1, _ONE_THREAD // theirs.size)
        got = np.concatenate([vectors[i:i + step] @ theirs for i in range(0, len(vectors), step)])
        for k, r in enumerate(new):
            _COSINES[r] = got[:, k].astype(np.float32)  # a race computes one twice, alike
    width = len(char_vectors()[0])
    return np.array([_COSINES[r] for r in rows], dtype=np.float32).reshape(len(rows), width)


# Above this many multiply-adds a matrix product runs on BLAS's threads, which
# on shared cores costs more than it saves (OpenBLAS: 4 * 65536).
_ONE_THREAD = 4 * 65536


def _ords(chars: Iterable[str]) -> np.ndarray:
    return np.fromiter(map(ord, chars), dtype=np.intp)


@dataclass(frozen=True)
class QueryProfile:
    """What the features need of a query, computed once per search."""

    chars: tuple[str, ...]  # its distinct Han characters
    ords: np.ndarray  # their code points
    char_idf: np.ndarray  # their idf (in the body characters)
    words: tuple[tuple[str, ...], ...]  # each content word with its synonyms
    word_idf: np.ndarray  # the content words' idf (in the body words)
    stops: frozenset[str]  # its question and function words (:func:`question_words`)
    kinds: int
    known: np.ndarray  # where in ``chars`` those with a vector (:func:`char_vectors`) are
    cosines: np.ndarray  # their cosine with every character that has one (:func:`cosines`), a row each
    spelled: str  # its letters, digits and Han characters in order
    symbols: frozenset[str]  # its letters and digits other than Han characters


@dataclass(frozen=True)
class Headline:
    """What the features need of a document's headline; cached per document."""

    text: str  # normalized
    weights: dict[str, float]  # distinct Han characters -> idf in the headline's field
    total: float
    han: int  # how many Han characters it has
    stops: frozenset[str]  # its question and function words (:func:`question_words`)
    kinds: int
    spots: dict[str, int]  # its letters, digits and Han characters -> the bits of where each stands
    size: int  # how many letters, digits and Han characters it has
    symbols: frozenset[str]  # its letters and digits other than Han characters
    # Of its distinct Han characters, in the order of ``weights`` (:class:`WindowChars`):
    ords: np.ndarray  # code points
    idfs: np.ndarray  # idf
    firsts: np.ndarray  # where each first occurs among the Han characters
    rows: np.ndarray  # rows in :func:`char_vectors`, -1 for one with no vector


_SYMBOL = re.compile(r"[0-9A-Za-z]")  # a letter or digit that is no Han character (:func:`is_han`)


def _symbols(text: str) -> frozenset[str]:
    return frozenset(_SYMBOL.findall(text))


def query_profile(postings: Postings, clauses: list[Clause]) -> QueryProfile:
    text = norm(" ".join(positive_texts(clauses)))
    chars = han_units(text)
    words = [w for w, stop, _, _ in clause_words(text) if not stop]
    syn = synonyms()
    n = postings.doc_count
    char_idf = np.array([idf(n, postings.docs("chars", ch).size) for ch in chars])
    known, rows = _vector_rows(chars)
    return QueryProfile(
        chars=chars, ords=_ords(chars), char_idf=char_idf, words=tuple((w, *syn.get(w, ())) for w in words),
        word_idf=np.array([idf(n, postings.docs("body", w).size) for w in words]),
        stops=question_words(text), kinds=kinds(text),
        known=np.array([chars.index(ch) for ch in known], dtype=np.int64),
        cosines=cosines(rows.tolist()),
        spelled="".join(ch for ch in text if ch.isalnum()), symbols=_symbols(text))


def headline(postings: Postings, docnum: int) -> Headline:
    key = ("rerank-headline", docnum)
    hit = postings.recall(key)
    if hit is not None:
        return hit
    text, weights, total = postings.headline(docnum)
    han = [ch for ch in text if is_han(ch)]
    first: dict[str, int] = {}
    for i, ch in enumerate(han):
        first.setdefault(ch, i)
    spelled = [ch for ch in text if ch.isalnum()]
    spots: dict[str, int] = {}
    for i, ch in enumerate(spelled):
        spots[ch] = spots.get(ch, 0) | 1 << i
    rows = char_vectors()[0]
    return postings.remember(key, Headline(
        text=text, weights=weights, total=total, han=len(han), stops=question_words(text), kinds=kinds(text),
        spots=spots, size=len(spelled), symbols=_symbols(text), ords=_ords(weights),
        idfs=np.fromiter(weights.values(), dtype=np.float64, count=len(weights)),
        firsts=np.array([first[ch] for ch in weights], dtype=np.intp),
        rows=np.array([rows.get(ch, -1) for ch in weights], dtype=np.intp)))


@dataclass(frozen=True)
class WindowChars:
    """A window's headlines' distinct Han characters as arrays, headline
    after headline, built once per query: every feature that compares them
    with the query reads them at once."""

    ords: np.ndarray  # their code points
    codes: np.ndarray  # the same for reading a table (:func:`lifts.table_codes`)
    idfs: np.ndarray  # their idf in their headline's field
    firsts: np.ndarray  # where each first occurs among its headline's Han characters
    rows: np.ndarray  # their rows in the character vectors, -1 for one that has none
    starts: np.ndarray  # where each headline that has any starts
    has: np.ndarray  # which headlines have any


def window_chars(heads: list[Headline]) -> WindowChars:
    sizes = np.fromiter((h.ords.size for h in heads), dtype=np.intp, count=len(heads))
    has = sizes > 0
    if not has.any():
        none = np.zeros(0, dtype=np.intp)
        return WindowChars(none, none, np.zeros(0), none, none, none, has)
    ords = np.concatenate([h.ords for h in heads])
    return WindowChars(ords, table_codes(ords), np.concatenate([h.idfs for h in heads]),
                       np.concatenate([h.firsts for h in heads]), np.concatenate([h.rows for h in heads]),
                       np.cumsum(sizes[has]) - sizes[has], has)


def _share(held: np.ndarray, weights: np.ndarray, rows: int) -> np.ndarray:
    """Each row's idf-weighted share of the query's units it holds
    (``held``: a value per row and unit, row after row)."""
    total = float(weights.sum())
    if not total:
        return np.zeros(rows)
    return (held.reshape(rows, weights.size) > 0).astype(np.float64) @ weights / total


def held_idf(q: QueryProfile, chars: WindowChars) -> np.ndarray:
    """Each headline's idf of each query character, 0 where it lacks it (a
    row per headline)."""
    out = np.zeros((chars.has.size, len(q.chars)))
    if chars.ords.size and q.chars:
        out[chars.has] = np.add.reduceat((chars.ords[:, None] == q.ords) * chars.idfs[:, None], chars.starts)
    return out


def _first(q: QueryProfile, heads: list[Headline], chars: WindowChars) -> np.ndarray:
    """Where the first query character occurs in each headline, as a share
    of its Han characters (1 when it holds none of them; 0 when it has no
    Han character)."""
    han = np.fromiter((h.han for h in heads), dtype=np.float64, count=len(heads))
    first = han.copy()
    if chars.ords.size and q.chars:
        at = np.where(chars.ords[:, None] == q.ords, chars.firsts[:, None], np.iinfo(np.intp).max)
        first[chars.has] = np.minimum(np.minimum.reduceat(at, chars.starts).min(axis=1), han[chars.has])
    return first / np.maximum(han, 1)


def features(q: QueryProfile, heads: list[Headline], scores: np.ndarray,
             table: Translations | None = None) -> np.ndarray:
    """The candidates' feature rows, columns in the order of :data:`FEATURES`
    (:data:`LIFTED` read through ``table``, by default :func:`translations`)."""
    n = len(heads)
    x = np.zeros((n, len(FEATURES)))
    top = float(scores.max()) if n else 0.0
    x[:, 0] = scores / top if top else 0.0
    chars = window_chars(heads)
    idf_in_head = held_idf(q, chars)
    x[:, 1] = _share(idf_in_head, q.char_idf, n)
    x[:, 2] = idf_in_head.sum(axis=1) / np.array([h.total or 1.0 for h in heads])
    x[:, 3] = _share(np.fromiter((alts[0] in h.text or (len(alts) > 1 and any(w in h.text for w in alts[1:]))
                                  for h in heads for alts in q.words), dtype=bool, count=n * len(q.words)),
                     q.word_idf, n)
    x[:, 4] = [len(h.stops - q.stops) for h in heads]
    x[:, 5] = _first(q, heads, chars)
    x[:, 6] = [len(h.text) for h in heads]
    both = [(q.kinds & h.kinds).bit_count() for h in heads]
    x[:, 7] = both
    x[:, 8] = [q.kinds.bit_count() - b for b in both]
    x[:, 9] = [h.kinds.bit_count() - b for h, b in zip(heads, both)]
    x[:, 10] = _near_missing(q, chars, idf_in_head)
    x[:, 11] = _subsequence(q, heads)
    x[:, 12] = [len(h.symbols - q.symbols) for h in heads]
    x[:, LIFTED_COLUMNS] = lifted(q, chars, translations() if table is None else table, idf_in_head)
    return x


def _subsequence(q: QueryProfile, heads: list[Headline]) -> np.ndarray:
    """The longest common subsequence of the query's and each headline's
    letters, digits and Han characters, as a share of the headline's: how
    much of the headline the query spells out in its order, where the
    character shares ignore order (白带多 against 多白带).  Bit-parallel
    (Hyyrö 2004) in one integer per headline, whose bits are the headline's
    characters: a query character the headline lacks costs one look-up."""
    shares = []
    for h in heads:
        every = (1 << h.size) - 1
        lacks = every  # the cleared bits count the subsequence
        for ch in q.spelled:
            spot = h.spots.get(ch)
            if spot:
                held = lacks & spot
                lacks = ((lacks + held) | (lacks - held)) & every
        shares.append((h.size - lacks.bit_count()) / (h.size or 1))
    return np.array(shares)


def _near_missing(q: QueryProfile, chars: WindowChars, held: np.ndarray) -> np.ndarray:
    """For the query characters (with a vector) each headline lacks
    (``held``: each headline's idf of each query character, 0 if absent):
    the idf-weighted mean of how close the headline's nearest character is
    (cosine); 1 when it lacks none, 0 when either side has no vectors.
    Lexical coverage counts 眼皮老是痒 as missing 睑 of 眼睑老是痒; this sees
    that 皮 stands in for it.  Read for the whole window at once."""
    heads = chars.has.size
    if not q.known.size:
        return np.zeros(heads)
    weights = q.char_idf[q.known]
    lacks = held[:, q.known] == 0
    nearest = np.zeros(lacks.shape, dtype=np.float32)
    known = chars.rows >= 0
    sizes = np.zeros(heads, dtype=np.intp)
    if known.any():
        sizes[chars.has] = np.add.reduceat(known.astype(np.intp), chars.starts)
    has = sizes > 0
    if has.any():
        nearest[has] = np.maximum.reduceat(q.cosines[:, chars.rows[known]], np.cumsum(sizes[has]) - sizes[has],
                                           axis=1).T
    missed = lacks @ weights
    return np.where(missed > 0, (lacks * nearest) @ weights / np.where(missed > 0, missed, 1.0), has)


class Trees:
    """A sum of complete binary decision trees of one depth, in heap order
    (node i's children are 2i+1 and 2i+2): per tree, the feature and
    threshold of each inner node (go left when the value is at most the
    threshold) and the value of each leaf.  Evaluated for all rows and trees
    at once: one comparison of every split, then ``depth`` lookups."""

    def __init__(self, model: dict):
        self.depth = int(model["depth"])
        self.feature = np.asarray(model["feature"], dtype=np.int64)  # (trees, 2**depth - 1)
        self.threshold = np.asarray(model["threshold"], dtype=np.float64)
        self.value = np.asarray(model["value"], dtype=np.float64)  # (trees, 2**depth)

    def predict(self, x: np.ndarray) -> np.ndarray:
        trees, inner = self.feature.shape
        rows = x.shape[0]
        # Flat indexes (row, tree, node) -> (row * trees + tree) * inner + node: a third of take_along_axis's cost.
        right = (x[:, self.feature.ravel()] > self.threshold.ravel()).ravel()
        base = np.arange(rows * trees) * inner
        node = np.zeros(rows * trees, dtype=np.int64)
        for _ in range(self.depth):
            node = 2 * node + 1 + right[base + node]
        leaf = np.tile(np.arange(trees) * (inner + 1), rows) + node - inner
        return self.value.ravel()[leaf].reshape(rows, trees).sum(axis=1)


class Reranker:
    """Reorders the best ``window`` full matches of a relevance-sorted search."""

    def __init__(self, trees: Trees | None, window: int, table: Translations | None = None):
        self.trees = trees
        self.window = window
        self.table = table  # for :data:`LIFTED`; None: the shipped :func:`translations`

    def rerank(self, postings: Postings, clauses: list[Clause], pool: np.ndarray,
               scores: np.ndarray) -> np.ndarray:
        """Scores with the window's documents (the best of ``pool``, a mask)
        reordered by the model: they trade their first-stage scores among
        themselves, so they stay above every other result and the scores
        keep their scale."""
        top = best(scores, pool, self.window)
        if top.size < 2:
            return scores
        model = self.predict(postings, clauses, top, scores[top])
        out = scores.copy()
        out[top[np.lexsort((np.arange(top.size), -model))]] = scores[top]
        return out

    def predict(self, postings: Postings, clauses: list[Clause], docs: np.ndarray,
                scores: np.ndarray) -> np.ndarray:
        return self.trees.predict(self.rows_of(postings, clauses, docs, scores))

    def rows_of(self, postings: Postings, clauses: list[Clause], docs: np.ndarray, scores: np.ndarray) -> np.ndarray:
        return features(query_profile(postings, clauses), [headline(postings, d) for d in docs.tolist()],
                        scores.astype(np.float64), self.table)


def load_model(text: str) -> Reranker:
    """A reranker from the JSON that ``tools/train_rerank.py`` writes."""
    doc = json.loads(text)
    if tuple(doc["features"]) != FEATURES:
        raise ValueError("the reranker was fitted on other features: run tools/train_rerank.py")
    return Reranker(Trees(doc["trees"]), int(doc["window"]))


@lru_cache(maxsize=1)
def shipped() -> Reranker:
    """The model fitted by ``tools/train_rerank.py`` (``data/rerank.json``), read once."""
    return load_model(resources.files("searchkit").joinpath("data", "rerank.json").read_text(encoding="utf-8"))
