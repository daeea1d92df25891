"""Tokenizers and Whoosh analyzers.

Two views of the same text are indexed:

* words: jieba precise-mode words, plus the dictionary sub-words jieba's
  search mode adds (``医保卡`` also gives ``医保``), all at the position of the
  word they came from; digits and Latin runs are kept (``2``, ``96102``,
  ``hpv``);
* characters: every character as a unit (a Latin/digit run counts as one
  unit), unigrams and bigrams, positions counted in units.  Sub-word queries
  (``痛`` in ``头痛``) match here, and quoted phrases are exact unit sequences
  here, whatever jieba made of them (found by their grams, checked against
  the stored text: the index keeps no positions).

For indexing, :func:`analyze` turns a batch of records into token arrays
(term ids per document) with as little Python per token as possible: the
character grams of a whole batch are computed with NumPy, exactly as
:func:`char_tokens` yields them one by one for a query.  jieba is loaded
once per process by :func:`segmenter`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterator

import numpy as np
from whoosh.analysis import Token, Tokenizer

from .text import norm, normalize, normalize_checked

# A Latin/digit run is one unit; any other letter (Han, kana, Hangul...) is one.
_UNIT = re.compile(r"[a-z0-9]+|[^\W_]")
_WORDISH = re.compile(r"[^\W_]")
_ASCII_RUN = re.compile(r"[a-z0-9]+")
# What may join two Latin/digit units without breaking a phrase (covid-19, 1.5).
_JOINERS = frozenset("-./+#_")
SIMPLIFIED = "simplified"  # analyze()'s per-document flags: the body folds without t2s


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "searchkit")


def data_lines(name: str) -> list[str]:
    """Non-comment lines of a shipped data file."""
    text = resources.files("searchkit").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


@lru_cache(maxsize=1)
def segmenter():
    """jieba's tokenizer with our user dictionary, loaded once per process.

    The loaded dictionary (jieba's own plus ours) is cached as a pickle in
    our cache directory: it loads about three times faster than jieba's
    marshal cache, which is most of a cold ``searchkit search``.  jieba's
    log chatter is silenced.
    """
    import hashlib
    import pickle

    import jieba

    jieba.setLogLevel(60)
    tk = jieba.Tokenizer()
    words = data_lines("userdict.txt")
    key = hashlib.sha1("\n".join([jieba.__version__, *words]).encode("utf-8")).hexdigest()[:12]
    cache = os.path.join(_cache_dir(), f"jieba-{key}.pickle")
    try:
        with open(cache, "rb") as f:
            tk.FREQ, tk.total = pickle.load(f)
        tk.initialized = True
        return tk
    except (OSError, EOFError, ValueError, pickle.UnpicklingError):
        pass  # first run, or a damaged cache: build it again
    try:
        os.makedirs(_cache_dir(), exist_ok=True)
        tk.tmp_dir = _cache_dir()
    except OSError:
        pass  # unwritable home: jieba builds in memory each time
    tk.initialize()
    for line in words:
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tk.add_word(parts[0], freq)
    try:
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump((tk.FREQ, tk.total), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass
    return tk


def _word_parts(w: str, freq: dict[str, int]) -> Iterator[tuple[str, int, int]]:
    """The terms one jieba word is indexed as, with offsets inside it: its
    Latin/digit runs (2型糖尿病, hpv疫苗), its dictionary sub-words of two
    and three characters (search mode), and the word itself."""
    n = len(w)
    if n > 1 and not w.isascii():
        for m in _ASCII_RUN.finditer(w):
            yield m.group(), m.start(), m.end()
    if n > 2:
        for k in (2, 3):
            if n > k:
                for i in range(n - k + 1):
                    sub = w[i:i + k]
                    if freq.get(sub):
                        yield sub, i, i + k
    yield w, 0, n


def word_tokens(text: str) -> Iterator[tuple[str, int, int, int]]:
    """(word, position, start, end) over already-normalized text.

    Search-mode sub-words share the position of their word, so consecutive
    words keep consecutive positions.
    """
    tk = segmenter()
    freq = tk.FREQ
    start = 0
    pos = 0
    for w in tk.cut(text, HMM=True):
        end = start + len(w)
        if _WORDISH.search(w):
            for t, s, e in _word_parts(w, freq):
                yield t, pos, start + s, start + e
            pos += 1
        start = end


@lru_cache(maxsize=1024)
def text_words(text: str) -> tuple[tuple[str, int, int, int], ...]:
    """:func:`word_tokens` of normalized query text, cached: jieba cuts a
    query's clause once for scoring and for the did-you-mean check."""
    return tuple(word_tokens(text))


_BLOCK_CACHE: dict[str, str] = {}  # Han block -> its terms joined by newlines (compact)
_WORD_CACHE: dict[str, tuple[str, ...]] = {}  # jieba word -> the terms it is indexed as
_BLOCK_CACHE_SIZE = _WORD_CACHE_SIZE = 200_000


def _cached(cache: dict, size: int, key: str, value) -> None:
    if len(cache) >= size:
        cache.clear()
    cache[key] = value


def word_terms(text: str) -> list[str]:
    """The terms of :func:`word_tokens`, without positions, for indexing.

    jieba cuts each run of Han/Latin characters on its own, so the terms of
    a run are cached (text repeats: card snippets quote their articles,
    pages share boilerplate), and so are the terms of each word.  jieba is
    most of an index build.
    """
    import jieba

    tk = segmenter()
    freq, blocks, words = tk.FREQ, _BLOCK_CACHE, _WORD_CACHE
    cut_block = tk._Tokenizer__cut_DAG  # what tk.cut runs on each Han block, minus its per-call set-up
    out: list[str] = []
    for i, block in enumerate(jieba.re_han_default.split(text)):
        if not block:
            continue
        if i % 2 == 0:  # between Han blocks: punctuation, spaces, other scripts
            out.extend(t for w in tk.cut(block, HMM=True) if _WORDISH.search(w) for t, _, _ in _word_parts(w, freq))
            continue
        joined = blocks.get(block)
        if joined is None:
            terms: list[str] = []
            for w in cut_block(block):
                parts = words.get(w)
                if parts is None:
                    parts = tuple(t for t, _, _ in _word_parts(w, freq)) if _WORDISH.search(w) else ()
                    _cached(words, _WORD_CACHE_SIZE, w, parts)
                terms.extend(parts)
            joined = "\n".join(terms)  # a Han block holds no newline
            _cached(blocks, _BLOCK_CACHE_SIZE, block, joined)
        if joined:
            out.extend(joined.split("\n"))
    return out


def is_han(unit: str) -> bool:
    return len(unit) == 1 and not unit.isascii()


def char_tokens(text: str) -> Iterator[tuple[str, int, int, int]]:
    """(unigram or bigram, position, start, end) over normalized text.

    A gap in the text (punctuation, space) also skips a position, so a
    quoted phrase never matches across it.  Bigrams join only adjacent
    non-ASCII letters: Latin runs are whole words already.
    """
    pos = -1
    prev_unit = None
    prev_end = -2  # no unit yet: nothing is adjacent
    prev_start = 0
    for m in _UNIT.finditer(text):
        unit, s, e = m.group(), m.start(), m.end()
        adjacent = s == prev_end or (
            s == prev_end + 1 and text[prev_end] in _JOINERS and unit.isascii() and prev_unit.isascii())
        pos += 1 if adjacent else 2
        if adjacent and is_han(unit) and is_han(prev_unit):
            yield prev_unit + unit, pos - 1, prev_start, e
        yield unit, pos, s, e
        prev_unit, prev_start, prev_end = unit, s, e


@lru_cache(maxsize=1024)
def han_units(text: str) -> tuple[str, ...]:
    """The distinct Han characters of normalized text as the index has them,
    in order: no punctuation (、 and 。 are not ASCII either), as in
    :meth:`scoring.Postings.headline`.  Cached: a query asks for its own
    several times."""
    return tuple(dict.fromkeys(t for t, *_ in char_tokens(text) if is_han(t)))


@dataclass
class Tokens:
    """The tokens of a batch of texts: ``docs[i]`` is the text (0-based in
    the batch) that token ``i`` came from, ``ids[i]`` indexes ``terms``."""

    docs: np.ndarray
    ids: np.ndarray
    terms: list[str]


Analyzed = dict[str, Tokens | np.ndarray]  # what analyze() returns


def word_arrays(texts: list[str]) -> Tokens:
    """:func:`word_terms` of each normalized text, as arrays."""
    terms: list[str] = []
    counts = []
    for text in texts:
        before = len(terms)
        terms.extend(word_terms(text))
        counts.append(len(terms) - before)
    vocab = list(dict.fromkeys(terms))
    index = {t: i for i, t in enumerate(vocab)}
    ids = np.fromiter(map(index.__getitem__, terms), np.int32, len(terms))
    return Tokens(np.repeat(np.arange(len(texts), dtype=np.int32), counts), ids, vocab)


_BIGRAM_SHIFT = 21  # code points are < 2**21: a bigram packs two into one int64


def char_arrays(texts: list[str]) -> Tokens:
    """:func:`char_tokens` of each normalized text (unigrams and bigrams,
    without positions), computed over the whole batch at once."""
    joined = "\n".join(texts) + "\n"  # a gap between texts: no bigram crosses it
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    doc_of = np.repeat(np.arange(len(texts), dtype=np.int32), [len(t) + 1 for t in texts])
    distinct, inverse = np.unique(cps, return_inverse=True)
    wordish = np.array([bool(_WORDISH.match(chr(c))) for c in distinct.tolist()], dtype=bool)[inverse]
    run = np.array([bool(_ASCII_RUN.match(chr(c))) for c in distinct.tolist()], dtype=bool)[inverse]
    single = wordish & ~run  # a unit on its own: Han and every other letter
    han = single & (cps > 127)
    # Latin/digit runs (one unit each) and ASCII letters _ASCII_RUN leaves out
    # get negative codes that index a list of their strings.
    prev = np.concatenate(([False], run[:-1]))
    starts = np.flatnonzero(run & ~prev)
    ends = np.flatnonzero(run & ~np.concatenate((run[1:], [False]))) + 1
    others = np.flatnonzero(single & ~han)
    spans = [(int(s), int(e)) for s, e in zip(starts, ends)] + [(int(s), int(s) + 1) for s in others]
    strings: dict[str, int] = {}
    ascii_codes = np.fromiter((-1 - strings.setdefault(joined[s:e], len(strings)) for s, e in spans),
                              np.int64, len(spans))
    ascii_at = np.concatenate((starts, others)).astype(np.int64)
    pair = np.flatnonzero(han[:-1] & han[1:])
    uni = np.flatnonzero(han)
    codes = np.concatenate((cps[uni], (cps[pair] << _BIGRAM_SHIFT) | cps[pair + 1], ascii_codes))
    docs = np.concatenate((doc_of[uni], doc_of[pair], doc_of[ascii_at]))
    unique_codes, ids = np.unique(codes, return_inverse=True)
    names = list(strings)
    mask = (1 << _BIGRAM_SHIFT) - 1
    terms = [names[-1 - c] if c < 0 else chr(c) if c <= mask else chr(c >> _BIGRAM_SHIFT) + chr(c & mask)
             for c in unique_codes.tolist()]
    return Tokens(docs.astype(np.int32), ids.astype(np.int32), terms)


def analyze(rows: list[tuple[str, str, str]]) -> Analyzed:
    """Tokens of each indexed field for a batch of (title, headings, body),
    and under ``SIMPLIFIED`` which bodies fold without traditional-to-
    simplified conversion (:func:`text.normalize_checked`).

    Runs in indexing worker processes: plain data in, plain data out."""
    titles = [norm(t) for t, _, _ in rows]
    headings = [norm(h) for _, h, _ in rows]
    checked = [normalize_checked(b) for _, _, b in rows]
    bodies = [n.text for n, _ in checked]
    return {"title": word_arrays(titles), "headings": word_arrays(headings), "body": word_arrays(bodies),
            "title_chars": char_arrays(titles), "chars": char_arrays(bodies),
            SIMPLIFIED: np.array([plain for _, plain in checked], dtype=bool)}


# -- Whoosh analyzers ---------------------------------------------------------
# The schema's text fields analyze with these, so Whoosh's own query parser,
# highlighter and writer see the very terms the bulk builder indexes.  They
# hold no state: the index's schema pickles them as a class name, and jieba's
# dictionary loads only when one first runs.


class _Tokenizer(Tokenizer):
    """Normalizes (keeping offsets into the original text) and yields the
    terms of :meth:`tokens` as Whoosh tokens."""

    @staticmethod
    def tokens(text: str) -> Iterator[tuple[str, int, int, int]]:
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        n = normalize(value)
        for term, pos, s, e in self.tokens(n.text):
            t.text, t.boost, t.stopped = term, 1.0, False
            if keeporiginal:
                t.original = term
            if positions:
                t.pos = start_pos + pos
            if chars:
                a, b = n.to_original(s, e)
                t.startchar, t.endchar = start_char + a, start_char + b
            yield t


class WordTokenizer(_Tokenizer):
    """jieba words and their search-mode sub-words (:func:`word_tokens`)."""

    tokens = staticmethod(word_tokens)


class CharTokenizer(_Tokenizer):
    """Character unigrams and bigrams (:func:`char_tokens`)."""

    tokens = staticmethod(char_tokens)
