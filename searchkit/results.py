"""What a search returns: hits, results, records and index statistics.

Plain data, shared by the library (:mod:`searchkit.search`), the CLI and
the web app; :mod:`searchkit.render` turns it into text, JSON and HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


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
    title_highlights: list[tuple[int, int]] = field(default_factory=list)  # spans into headline
    url: str | None = None
    headline: str = ""  # the title, or the start of an untitled record's body, for display
    missing: list[str] = field(default_factory=list)  # query words the record lacks ("Missing: 闹")
    partial: bool = False  # holds none of the query's words whole, only some of their characters


@dataclass
class Results:
    query: str
    total: int
    page: int
    limit: int
    hits: list[Hit]
    relaxed: bool = False  # required words/phrases matched nothing and were made optional
    suggestion: str | None = None  # did you mean…, for zero- or low-hit queries
    pinyin: list[str] = field(default_factory=list)  # Hanzi words a pinyin query was read as
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    partial: int = 0  # partial matches (none of the query's words whole) listed after total; 0 with partial=False
    corrected: str | None = None  # the did-you-mean whose results these are, instead of the query's

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


@dataclass
class Stats:
    index_dir: str
    format_version: int
    documents: dict[str, int]
    vocabulary: int
    size_bytes: int
    segments: int
    built: str | None
    sources: list[str]
