"""Tokenizers and Whoosh analyzers.

Two views of the same text are indexed:

* words: jieba precise-mode words, plus the dictionary sub-words jieba's
  search mode adds (``医保卡`` also gives ``医保``), all at the position of the
  word they came from; digits and Latin runs are kept (``2``, ``96102``,
  ``hpv``);
* characters: every character as a unit (a Latin/digit run counts as one
  unit), unigrams and bigrams, positions counted in units.  Sub-word queries
  (``痛`` in ``头痛``) match here, and quoted phrases are exact unit sequences
  here, whatever jieba made of them.

The analyzers are Whoosh ``Analyzer`` objects because Whoosh pickles them
into the index schema; they live in this module (a stable import path) and
hold no state, jieba is loaded once per process by :func:`segmenter`.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

from whoosh.analysis import Analyzer, Token

from .text import norm

# A Latin/digit run is one unit; any other letter (Han, kana, Hangul...) is one.
_UNIT = re.compile(r"[a-z0-9]+|[^\W_]")
_WORDISH = re.compile(r"[^\W_]")
_ASCII_RUN = re.compile(r"[a-z0-9]+")
# What may join two Latin/digit units without breaking a phrase (covid-19, 1.5).
_JOINERS = frozenset("-./+#_")


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
            n = len(w)
            if n > 1 and not w.isascii():
                # Latin and digit runs inside a mixed word (2型糖尿病, hpv疫苗).
                for m in _ASCII_RUN.finditer(w):
                    yield m.group(), pos, start + m.start(), start + m.end()
            if n > 2:
                for k in (2, 3):
                    if n > k:
                        for i in range(n - k + 1):
                            sub = w[i:i + k]
                            if freq.get(sub):
                                yield sub, pos, start + i, start + i + k
            yield w, pos, start, end
            pos += 1
        start = end


def _is_han(unit: str) -> bool:
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
        if adjacent and _is_han(unit) and _is_han(prev_unit):
            yield prev_unit + unit, pos - 1, prev_start, e
        yield unit, pos, s, e
        prev_unit, prev_start, prev_end = unit, s, e


def units(text: str) -> list[str]:
    """The character units of normalized text, for phrase queries."""
    return _UNIT.findall(text)


class _TokenAnalyzer(Analyzer):
    """Adapts a (text, pos, start, end) generator to Whoosh's Token stream."""

    tokens = staticmethod(word_tokens)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __call__(self, value: Any, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        t.boost = 1.0
        t.stopped = False
        for text, pos, s, e in self.tokens(norm(value)):
            t.text = text
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            yield t


class WordAnalyzer(_TokenAnalyzer):
    """jieba words (precise mode plus search-mode sub-words)."""

    tokens = staticmethod(word_tokens)


class CharAnalyzer(_TokenAnalyzer):
    """Character unigrams and bigrams with unit positions."""

    tokens = staticmethod(char_tokens)
