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
query characters it lacks has gone with relevance before (``translated``,
``data/translations.txt``), whether the characters it adds to the query have
(``added_down``, ``added_up``: a headline that adds 糖 to a question about
blood pressure is about something else), whether the query characters it
lacks could be done without (``lacked``: 况 of 情况 yes, 肾 no), and whether both
ask the same kind of question (treatment, cause, yes/no…).  Features describe a query and a headline,
never which query or which document it is, so nothing learned is a lookup
of the judgments.

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

from .analysis import char_tokens, data_lines, is_han
from .query import Clause
from .scoring import Postings, best, idf
from .text import norm
from .words import clause_words, positive_texts, stopwords, synonyms

FEATURES = ("score", "query_chars", "headline_chars", "words", "extra_stops", "first", "length",
            "kinds_both", "kinds_query", "kinds_headline", "near_missing", "subsequence", "extra_symbols",
            "translated", "added_down", "added_up", "lacked")
LIFTED = ("translated", "added_down", "added_up", "lacked")  # the features read through :func:`translations`
LIFTED_COLUMNS = [FEATURES.index(f) for f in LIFTED]


_PLANE = 0x10000  # characters past the Basic Multilingual Plane share one code (:func:`code_points`)
ADDED = "+"  # the source of translations.txt's line of added characters (no Han character)
LACKED = "-"  # and of its line of lacked query characters


def code_points(chars: Iterable[str]) -> np.ndarray:
    return np.fromiter((min(ord(ch), _PLANE) for ch in chars), dtype=np.intp)


class Translations:
    """Query character -> headline character -> lift (:func:`translations`),
    and the same as rows of a matrix, so that a window's headlines are read
    at once: a row per query character, a column per headline character with
    a lift (found by code point) and a last one for every other character.
    And ``added``: headline character -> lift where the query lacks it, read
    by code point (``added_lift``); ``lacked``: query character -> lift
    where the headline lacks it."""

    def __init__(self, pairs: dict[str, dict[str, float]], added: dict[str, float] | None = None,
                 lacked: dict[str, float] | None = None):
        self.pairs = pairs
        self.added = added or {}
        self.lacked = lacked or {}
        self.added_lift = np.zeros(_PLANE + 1)  # 0 for a character with no lift, and past the plane
        if self.added:
            self.added_lift[code_points(self.added)] = list(self.added.values())
            self.added_lift[_PLANE] = 0.0
        column = {b: i for i, b in enumerate(sorted({b for row in pairs.values() for b in row}))}
        # Code point -> column (:func:`code_points`); the last column for a character with no lift.
        self.column = np.full(_PLANE + 1, len(column), dtype=np.intp)
        self.column[code_points(column)] = list(column.values())
        self.column[_PLANE] = len(column)  # no lift past the plane (mining keeps none there)
        # Query character -> the columns and lifts of its row (kept sparse: dense, ~12 MB).
        self.width = len(column) + 1
        self.rows = {a: (np.array([column[b] for b in lifts], dtype=np.intp), np.array(list(lifts.values())))
                     for a, lifts in pairs.items()}


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


@lru_cache(maxsize=1)
def translations() -> Translations:
    """How much likelier a window headline was judged relevant where it
    lacked a query character but held another (log-odds, against all
    headlines lacking a query character).  Mined from the train split's
    judged windows by ``tools/train_rerank.py`` (``tools/translations.py``):
    a relation of two characters, the way web search learns from clicks
    that 儿 answers 孩 and 痛 answers 疼, which neither exact matches nor
    character vectors see.  Its ``+`` line: how much likelier a window
    headline holding a character the query lacks was judged relevant (糖
    low: a headline that adds it is about something else); its ``-`` line:
    one lacking a query character (况 of 情况 high, 肾 low).  Read once."""
    pairs: dict[str, dict[str, float]] = {}
    for line in data_lines("translations.txt"):
        source, *row = line.split()
        pairs[source] = {p[0]: float(p[2:]) for p in row}
    return Translations(pairs, pairs.pop(ADDED, None), pairs.pop(LACKED, None))



def _vector_rows(chars: Iterable[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Those of ``chars`` that have a vector, and their rows in :func:`char_vectors`."""
    at = char_vectors()[0]
    known = tuple(ch for ch in chars if ch in at)
    return known, np.array([at[ch] for ch in known], dtype=np.int64)


# Above this many multiply-adds a matrix product runs on BLAS's threads, which
# on shared cores costs more than it saves (OpenBLAS: 4 * 65536).
_ONE_THREAD = 4 * 65536


@dataclass(frozen=True)
class QueryProfile:
    """What the features need of a query, computed once per search."""

    chars: tuple[str, ...]  # its distinct Han characters
    char_idf: np.ndarray  # their idf (in the body characters)
    words: tuple[tuple[str, ...], ...]  # each content word with its synonyms
    word_idf: np.ndarray  # the content words' idf (in the body words)
    stops: frozenset[str]  # its question and function words (:func:`question_words`)
    kinds: int
    known: np.ndarray  # where in ``chars`` those with a vector (:func:`char_vectors`) are
    vectors: np.ndarray  # their vectors
    spelled: str  # its letters, digits and Han characters in order
    symbols: frozenset[str]  # its letters and digits other than Han characters


@dataclass(frozen=True)
class Headline:
    """What the features need of a document's headline; cached per document."""

    text: str  # normalized
    weights: dict[str, float]  # distinct Han characters -> idf in the headline's field
    total: float
    first: dict[str, int]  # distinct Han characters -> where each first occurs among the Han characters
    han: int  # how many Han characters it has
    stops: frozenset[str]  # its question and function words (:func:`question_words`)
    kinds: int
    rows: np.ndarray  # of its distinct Han characters that have a vector, their rows (:func:`char_vectors`)
    spots: dict[str, int]  # its letters, digits and Han characters -> the bits of where each stands
    size: int  # how many letters, digits and Han characters it has
    symbols: frozenset[str]  # its letters and digits other than Han characters
    codes: np.ndarray  # its distinct Han characters' code points (:func:`code_points`)


_SYMBOL = re.compile(r"[0-9A-Za-z]")  # a letter or digit that is no Han character (:func:`is_han`)


def _symbols(text: str) -> frozenset[str]:
    return frozenset(_SYMBOL.findall(text))


def han_units(text: str) -> list[str]:
    """The Han characters of normalized text as the index has them: no
    punctuation (、 and 。 are not ASCII either), as in :meth:`Postings.headline`."""
    return [t for t, *_ in char_tokens(text) if is_han(t)]


def query_profile(postings: Postings, clauses: list[Clause]) -> QueryProfile:
    text = norm(" ".join(positive_texts(clauses)))
    chars = tuple(dict.fromkeys(han_units(text)))
    words = [w for w, stop, _, _ in clause_words(text) if not stop]
    syn = synonyms()
    n = postings.doc_count
    char_idf = np.array([idf(n, postings.docs("chars", ch).size) for ch in chars])
    known, rows = _vector_rows(chars)
    return QueryProfile(
        chars=chars, char_idf=char_idf, words=tuple((w, *syn.get(w, ())) for w in words),
        word_idf=np.array([idf(n, postings.docs("body", w).size) for w in words]),
        stops=question_words(text), kinds=kinds(text),
        known=np.array([chars.index(ch) for ch in known], dtype=np.int64), vectors=char_vectors()[1][rows],
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
    return postings.remember(key, Headline(text=text, weights=weights, total=total, first=first, han=len(han),
                                           stops=question_words(text), kinds=kinds(text),
                                           rows=_vector_rows(weights)[1], spots=spots, size=len(spelled),
                                           symbols=_symbols(text), codes=code_points(weights)))


def _share(held: np.ndarray, weights: np.ndarray, rows: int) -> np.ndarray:
    """Each row's idf-weighted share of the query's units it holds
    (``held``: a value per row and unit, row after row)."""
    total = float(weights.sum())
    if not total:
        return np.zeros(rows)
    return (held.reshape(rows, weights.size) > 0).astype(np.float64) @ weights / total


def held_idf(q: QueryProfile, heads: list[Headline]) -> np.ndarray:
    """Each headline's idf of each query character, 0 where it lacks it (a
    row per headline; built by np.fromiter: nested lists cost as much again)."""
    return np.fromiter((h.weights.get(ch, 0.0) for h in heads for ch in q.chars), dtype=np.float64,
                       count=len(heads) * len(q.chars)).reshape(len(heads), len(q.chars))


def features(q: QueryProfile, heads: list[Headline], scores: np.ndarray,
             table: Translations | None = None) -> np.ndarray:
    """The candidates' feature rows, columns in the order of :data:`FEATURES`
    (:data:`LIFTED` read through ``table``, by default :func:`translations`)."""
    n = len(heads)
    x = np.zeros((n, len(FEATURES)))
    top = float(scores.max()) if n else 0.0
    x[:, 0] = scores / top if top else 0.0
    idf_in_head = held_idf(q, heads)
    x[:, 1] = _share(idf_in_head, q.char_idf, n)
    x[:, 2] = idf_in_head.sum(axis=1) / np.array([h.total or 1.0 for h in heads])
    x[:, 3] = _share(np.fromiter((alts[0] in h.text or (len(alts) > 1 and any(w in h.text for w in alts[1:]))
                                  for h in heads for alts in q.words), dtype=bool, count=n * len(q.words)),
                     q.word_idf, n)
    x[:, 4] = [len(h.stops - q.stops) for h in heads]
    # Where the first query character occurs, as a share of the Han characters.
    x[:, 5] = [min((h.first.get(ch, h.han) for ch in q.chars), default=h.han) / max(h.han, 1) for h in heads]
    x[:, 6] = [len(h.text) for h in heads]
    both = [(q.kinds & h.kinds).bit_count() for h in heads]
    x[:, 7] = both
    x[:, 8] = [q.kinds.bit_count() - b for b in both]
    x[:, 9] = [h.kinds.bit_count() - b for h, b in zip(heads, both)]
    x[:, 10] = _near_missing(q, heads, idf_in_head)
    x[:, 11] = _subsequence(q, heads)
    x[:, 12] = [len(h.symbols - q.symbols) for h in heads]
    x[:, LIFTED_COLUMNS] = lifted(q, heads, translations() if table is None else table, idf_in_head)
    return x


@dataclass(frozen=True)
class WindowChars:
    """A window's headlines' distinct Han characters as one array of code
    points (:func:`code_points`), headline after headline: a table is read
    for all of them at once."""

    codes: np.ndarray
    starts: np.ndarray  # where each headline that has any starts in ``codes``
    has: np.ndarray  # which headlines have any


def window_chars(heads: list[Headline]) -> WindowChars:
    codes = [h.codes for h in heads]
    sizes = np.fromiter(map(len, codes), dtype=np.intp, count=len(codes))
    has = sizes > 0
    return WindowChars(np.concatenate(codes) if has.any() else np.zeros(0, dtype=np.intp),
                       np.cumsum(sizes[has]) - sizes[has], has)


def lifted(q: QueryProfile, heads: list[Headline], table: Translations, held: np.ndarray) -> np.ndarray:
    """The columns of :data:`LIFTED`, read through ``table`` (``held``: each
    headline's idf of each query character, 0 if absent).  ``lacked``: the
    sum of the lifts of the query characters each headline lacks."""
    chars = window_chars(heads)
    out = np.zeros((len(heads), len(LIFTED)))
    out[:, 0] = translated(q, chars, table, held)
    out[:, 1:3] = added(q, chars, table)
    out[:, 3] = (held == 0) @ np.array([table.lacked.get(ch, 0.0) for ch in q.chars])
    return out


def added(q: QueryProfile, chars: WindowChars, table: Translations) -> np.ndarray:
    """For the distinct characters each headline holds that the query does
    not: the sum of their negative lifts (``table.added``) and of their
    positive ones, a row per headline.  Sums, not means: each added
    character that has gone with irrelevance is one more sign of another
    topic."""
    out = np.zeros((chars.has.size, 2))
    if table.added and chars.codes.size:
        own = (chars.codes[:, None] == code_points(q.chars)).any(axis=1)  # a few query characters: no np.isin
        lift = np.where(own, 0.0, table.added_lift[chars.codes])
        out[chars.has, 0] = np.add.reduceat(np.minimum(lift, 0.0), chars.starts)
        out[chars.has, 1] = np.add.reduceat(np.maximum(lift, 0.0), chars.starts)
    return out


def translated(q: QueryProfile, chars: WindowChars, table: Translations, held: np.ndarray) -> np.ndarray:
    """For the query characters each headline lacks (``held``: as
    :func:`lifted` takes it): the idf-weighted
    mean of the best lift (:func:`translations`) among the headline's
    characters the query does not hold (a lacked character none of whose
    entries the headline holds counts 0); 0 when it lacks none.  A pair
    relation, never a query's or a document's identity.  The table's rows
    of the query characters, read at every headline's characters at once."""
    heads = chars.has.size
    lacks = held == 0
    missed = lacks @ q.char_idf
    queried = [i for i, ch in enumerate(q.chars) if ch in table.rows]
    if not queried or not heads:
        return np.zeros(heads)
    lifts = np.full((len(queried), table.width), -np.inf)  # the query characters' rows, -inf: no lift
    for k, i in enumerate(queried):
        columns, values = table.rows[q.chars[i]]
        lifts[k, columns] = values
    lifts[:, table.column[code_points(q.chars)]] = -np.inf  # the query's own characters
    best = np.zeros((len(q.chars), heads))  # query character by headline
    if chars.codes.size:
        got = np.zeros((len(queried), heads))
        got[:, chars.has] = np.maximum.reduceat(lifts[:, table.column[chars.codes]], chars.starts, axis=1)
        got[got == -np.inf] = 0.0
        best[queried] = got
    return np.where(missed > 0, (lacks * best.T) @ q.char_idf / np.where(missed > 0, missed, 1.0), 0.0)


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


def _near_missing(q: QueryProfile, heads: list[Headline], held: np.ndarray) -> np.ndarray:
    """For the query characters (with a vector) each headline lacks
    (``held``: each headline's idf of each query character, 0 if absent):
    the idf-weighted mean of how close the headline's nearest character is
    (cosine); 1 when it lacks none, 0 when either side has no vectors.
    Lexical coverage counts 眼皮老是痒 as missing 睑 of 眼睑老是痒; this sees
    that 皮 stands in for it.  One product with the window's characters,
    in pieces small enough to stay on one thread (:data:`_ONE_THREAD`)."""
    if not q.known.size:
        return np.zeros(len(heads))
    weights = q.char_idf[q.known]
    lacks = held[:, q.known] == 0
    nearest = np.zeros(lacks.shape, dtype=np.float32)
    sizes = np.array([h.rows.size for h in heads])
    has = sizes > 0
    if has.any():
        rows, at = np.unique(np.concatenate([h.rows for h in heads]), return_inverse=True)
        vectors = char_vectors()[1]
        step = max(1, _ONE_THREAD // q.vectors.size)
        cosine = np.concatenate([q.vectors @ vectors[rows[i:i + step]].T for i in range(0, rows.size, step)], axis=1)
        starts = np.cumsum(sizes[has]) - sizes[has]
        nearest[has] = np.maximum.reduceat(cosine[:, at], starts, axis=1).T
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
