"""Facets: counts of the matching documents by kind, category, month and the
places named in their titles, and filters on those values.

Places are found at index time from a shipped list (``data/places.txt``);
counts come from the posting lists of the facet fields, so they cost a few
array operations per value, not a pass over stored documents.
"""

from __future__ import annotations

import datetime

from functools import lru_cache
from typing import Iterable, Mapping

import numpy as np

from .analysis import data_lines
from .errors import UsageError

FACETS = ("kind", "category", "month", "city")


@lru_cache(maxsize=1)
def _places() -> tuple[str, ...]:
    return tuple(sorted(set(data_lines("places.txt")), key=len, reverse=True))


def places_in(title: str) -> list[str]:
    """Place names in a title, longest match first, each once, in order of
    appearance (拉萨 in 西藏拉萨…; 南京 but not 京 inside it)."""
    found: list[tuple[int, str]] = []
    taken = [False] * len(title)
    for name in _places():
        start = title.find(name)
        while start >= 0:
            end = start + len(name)
            if not any(taken[start:end]):
                found.append((start, name))
                taken[start:end] = [True] * len(name)
            start = title.find(name, end)
    seen: list[str] = []
    for _, name in sorted(found):
        if name not in seen:
            seen.append(name)
    return seen


def parse_facet_filters(pairs: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """``["city=北京", "city=南京", "month=2025-03"]`` ->
    ``{"city": ["北京", "南京"], "month": ["2025-03"]}``."""
    out: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value or name not in FACETS:
            raise UsageError(f"--facet takes NAME=VALUE with NAME one of {', '.join(FACETS)}, not {pair!r}")
        out.setdefault(name, []).append(value)
    return out


def check_filters(filters: Mapping[str, str | Iterable[str]]) -> dict[str, list[str]]:
    """Facet filters as name -> values, a single value standing for a list
    of one; an unknown name or a value that is not a string raises
    UsageError, as ``--facet`` does."""
    out = {}
    for name, values in filters.items():
        if name not in FACETS:
            raise UsageError(f"unknown facet {name!r}; facets are {', '.join(FACETS)}")
        values = [values] if isinstance(values, str) else list(values)
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise UsageError(f"facet {name!r} needs one or more non-empty strings, not {filters[name]!r}")
        out[name] = [v.strip() for v in values]
    return out


class FacetIndex:
    """Which documents carry which facet value, read from the index once."""

    def __init__(self, postings, searcher):
        self.p = postings
        self._values: dict[str, dict[str, np.ndarray]] = {}
        reader = searcher.reader()
        # Each document's date as a rank among all dates (-1: undated), for sorting.
        self.date_rank = np.full(postings.n, -1, dtype=np.int32)
        if "date" in reader.schema.names():
            for rank, term in enumerate(sorted(reader.field_terms("date"))):
                self.date_rank[postings.docs("date", term)] = rank
        for name, field in (("kind", "kind"), ("category", "category"), ("city", "city"), ("month", "date")):
            values: dict[str, list[np.ndarray]] = {}
            if field in reader.schema.names():
                for term in reader.field_terms(field):
                    key = term[:7] if name == "month" else term
                    values.setdefault(key, []).append(postings.docs(field, term))
            self._values[name] = {k: np.concatenate(v) for k, v in values.items()}

    def mask(self, filters: Mapping[str, str | Iterable[str]]) -> np.ndarray:
        """Documents with, for every facet named, one of its values: values
        of one facet are OR-ed, different facets AND-ed."""
        keep = np.ones(self.p.n, dtype=bool)
        for name, values in check_filters(filters).items():
            m = np.zeros(self.p.n, dtype=bool)
            for value in values:
                docs = self._values.get(name, {}).get(value)
                if docs is not None:
                    m[docs] = True
            keep &= m
        return keep

    def counts(self, matched: np.ndarray) -> dict[str, dict[str, int]]:
        """Per facet, value -> number of matched documents, largest first."""
        out = {}
        for name, values in self._values.items():
            counts = {v: int(np.count_nonzero(matched[docs])) for v, docs in values.items()}
            ordered = sorted(((v, c) for v, c in counts.items() if c), key=lambda vc: (-vc[1], vc[0]))
            out[name] = dict(ordered)
        return out


def parse_date(value: str | datetime.date | None, name: str) -> str | None:
    """A date filter as YYYY-MM-DD (the stored form): strings are checked,
    dates taken as they are."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.date):
        return (value.date() if isinstance(value, datetime.datetime) else value).isoformat()
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a date like 2025-03-31, not {value!r}") from None
