"""The reranker's features read through a table mined from the train
judgments (``data/translations.txt``, written by ``tools/train_rerank.py``
through ``tools/translations.py``): how much likelier a window headline was
judged relevant where it lacked a query character but held another
(``translated``: 儿 for 孩), where it added a character to the query
(``added_down``, ``added_up``: 糖 to a question about blood pressure), and
where it lacked a query character (``lacked``: 况 of 情况 yes, 肾 no).  Every
lift is a relation of characters, never a query's or a document's identity.
The table is read for a whole window at once, by code point.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

import numpy as np

from .analysis import data_lines

if TYPE_CHECKING:
    from .rerank import QueryProfile, WindowChars

LIFTED = ("translated", "added_down", "added_up", "lacked")  # the features read through :func:`translations`
_PLANE = 0x10000  # characters past the Basic Multilingual Plane share one code (:func:`code_points`)
ADDED = "+"  # the source of translations.txt's line of added characters (no Han character)
LACKED = "-"  # and of its line of lacked query characters


def code_points(chars: Iterable[str]) -> np.ndarray:
    return np.fromiter((min(ord(ch), _PLANE) for ch in chars), dtype=np.intp)


def table_codes(ords: np.ndarray) -> np.ndarray:
    """:func:`code_points` of characters given by their code points."""
    return np.minimum(ords, _PLANE)


class Translations:
    """Query character -> headline character -> lift (:func:`translations`),
    and the same as rows of a matrix (:meth:`row`), so that a window's
    headlines are read at once: a row per query character, a column per
    headline character with a lift (found by code point) and a last one for
    every other character.
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
        self.width = len(column) + 1
        self._columns = column
        self._rows: dict[str, np.ndarray] = {}

    def row(self, source: str) -> np.ndarray:
        """A query character's lifts as a row over the columns (-inf: no
        lift), made when a query first asks for it: all of them would take
        ~12 MB, and queries hold some hundreds of characters."""
        got = self._rows.get(source)
        if got is None:
            got = np.full(self.width, -np.inf)
            lifts = self.pairs[source]
            got[[self._columns[b] for b in lifts]] = list(lifts.values())
            self._rows[source] = got  # two threads may both make it, alike
        return got


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


def lifted(q: QueryProfile, chars: WindowChars, table: Translations, held: np.ndarray) -> np.ndarray:
    """The columns of :data:`LIFTED`, read through ``table`` (``held``: each
    headline's idf of each query character, 0 if absent).  ``lacked``: the
    sum of the lifts of the query characters each headline lacks."""
    out = np.zeros((chars.has.size, len(LIFTED)))
    own = (chars.ords[:, None] == q.ords).any(axis=1)  # which are the query's (a few characters: no np.isin)
    out[:, 0] = translated(q, chars, table, held, own)
    out[:, 1:3] = added(chars, table, own)
    out[:, 3] = (held == 0) @ np.array([table.lacked.get(ch, 0.0) for ch in q.chars])
    return out


def added(chars: WindowChars, table: Translations, own: np.ndarray) -> np.ndarray:
    """For the distinct characters each headline holds that the query does
    not: the sum of their negative lifts (``table.added``) and of their
    positive ones, a row per headline.  Sums, not means: each added
    character that has gone with irrelevance is one more sign of another
    topic."""
    out = np.zeros((chars.has.size, 2))
    if table.added and chars.codes.size:
        lift = np.where(own, 0.0, table.added_lift[chars.codes])
        out[chars.has, 0] = np.add.reduceat(np.minimum(lift, 0.0), chars.starts)
        out[chars.has, 1] = np.add.reduceat(np.maximum(lift, 0.0), chars.starts)
    return out


def translated(q: QueryProfile, chars: WindowChars, table: Translations, held: np.ndarray,
               own: np.ndarray) -> np.ndarray:
    """For the query characters each headline lacks (``held``: as
    :func:`lifted` takes it): the idf-weighted mean of the best lift
    (:func:`translations`) among the headline's characters the query does
    not hold (a lacked character none of whose entries the headline holds
    counts 0); 0 when it lacks none.  A pair
    relation, never a query's or a document's identity.  The table's rows
    of the query characters, read at every headline's characters at once
    (``own``: which of those are the query's)."""
    heads = chars.has.size
    lacks = held == 0
    missed = lacks @ q.char_idf
    queried = [i for i, ch in enumerate(q.chars) if ch in table.pairs]
    if not queried or not heads:
        return np.zeros(heads)
    best = np.zeros((len(q.chars), heads))  # query character by headline
    if chars.codes.size:
        columns = table.column[chars.codes]
        lifts = np.array([table.row(q.chars[i])[columns] for i in queried])  # -inf: no lift
        lifts[:, own] = -np.inf  # the query's own characters
        got = np.zeros((len(queried), heads))
        got[:, chars.has] = np.maximum.reduceat(lifts, chars.starts, axis=1)
        got[got == -np.inf] = 0.0
        best[queried] = got
    return np.where(missed > 0, (lacks * best.T) @ q.char_idf / np.where(missed > 0, missed, 1.0), 0.0)
