"""Scraped health pages into records: one article per page, one card per
related item.

A page is: a title line, the article body (sections under headings such as
``一、…`` or ``注意事项``), disclaimer lines (``提示:…``, ``本信息整理自…``),
optional ``大家都在搜``, then ``相关推荐`` and cards (title, snippet, a
``健康新闻 YYYY-MM-DD`` line), and nav junk (``首页 顶部``).  Disclaimers are
kept apart so they never match a query; nav junk is dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from .text import norm

ARTICLE = "article"
CARD = "card"
KINDS = (ARTICLE, CARD)

_DISCLAIMER = re.compile(r"^(提示[:：]|本信息整理自|本文所涉|免责声明)")
_RELATED = "相关推荐"
_END_OF_BODY = {"大家都在搜", _RELATED, "首页 顶部", "首页", "顶部"}
_NAV = {"首页 顶部", "首页", "顶部", "大家都在搜", "返回顶部"}
_CARD_META = re.compile(r"^(\S{1,12})\s+(\d{4}-\d{2}-\d{2})$")
_HEADING = re.compile(r"^([一二三四五六七八九十]+[、.．]|第[一二三四五六七八九十\d]+[章节部分])")
_NUMBERED = re.compile(r"^\d{1,2}[.、．]\s*")
_SENTENCE_PUNCT = re.compile(r"[。，,:：;；!！?？]")
_MAX_TITLE = 120


class PageError(ValueError):
    """A page that cannot yield an article (no usable title, nothing in it)."""


@dataclass
class Section:
    heading: str  # "" for the text before the first heading
    text: str


@dataclass
class Record:
    """One searchable unit: an article (a page or a JSONL line) or a card."""

    id: str
    kind: str
    title: str
    body: str
    sections: list[Section] = field(default_factory=list)
    date: str | None = None
    category: str | None = None
    url: str | None = None
    sources: list[str] = field(default_factory=list)
    disclaimer: str = ""
    line: int | None = None  # a JSONL record's line in its file

    @property
    def headings(self) -> list[str]:
        return [s.heading for s in self.sections if s.heading]


def card_id(title: str, snippet: str) -> str:
    """The same related item on several pages gets the same id."""
    key = norm(title).strip() + "\n" + norm(snippet).strip()
    return "c" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _is_heading(line: str) -> bool:
    if _HEADING.match(line):
        return True
    if line.startswith("•"):
        return False
    rest = _NUMBERED.sub("", line, count=1)
    # Short lines with no sentence punctuation read as headings: 注意事项, 1. 线上备案
    return len(rest) <= 16 and not _SENTENCE_PUNCT.search(rest) and not rest[-1:].isdigit()


def _sections(lines: list[str]) -> list[Section]:
    sections: list[Section] = []
    heading, text = "", []
    for line in lines:
        if _is_heading(line):
            if heading or text:
                sections.append(Section(heading, "\n".join(text)))
            heading, text = line, []
        else:
            text.append(line)
    if heading or text:
        sections.append(Section(heading, "\n".join(text)))
    return sections


def _cards(lines: list[str], source: str) -> list[Record]:
    cards: list[Record] = []
    pending: list[str] = []

    def flush(category: str | None, date: str | None) -> None:
        if pending:
            title, snippet = pending[0], " ".join(pending[1:])
            cards.append(Record(card_id(title, snippet), CARD, title, snippet,
                                date=date, category=category, sources=[source]))
        pending.clear()

    for line in lines:
        if line in _NAV:
            continue
        m = _CARD_META.match(line)
        if m:
            flush(m.group(1), m.group(2))
        else:
            pending.append(line)
    flush(None, None)  # a page cut off mid-card still yields what it had
    return cards


def parse_page(text: str, source: str, page_id: str | None = None) -> list[Record]:
    """The article of a page followed by its cards.

    ``page_id`` defaults to the file name without its extension: stable
    while the page's content changes (:func:`searchkit.sources.page_id`
    gives pages in folders their path).
    """
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise PageError("empty page")
    title = lines[0]
    if len(title) > _MAX_TITLE or title in _END_OF_BODY or _DISCLAIMER.match(title):
        raise PageError("no title line")

    body_lines: list[str] = []
    disclaimer: list[str] = []
    rest: list[str] = []
    for i, line in enumerate(lines[1:], start=1):
        if line in _END_OF_BODY:
            rest = lines[i:]
            break
        (disclaimer if _DISCLAIMER.match(line) else body_lines).append(line)

    cards: list[Record] = []
    if _RELATED in rest:
        cards = _cards(rest[rest.index(_RELATED) + 1:], source)

    article = Record(
        id=page_id or PurePath(source).stem,
        kind=ARTICLE,
        title=title,
        body="\n".join(body_lines),
        sections=_sections(body_lines),
        sources=[source],
        disclaimer="\n".join(disclaimer),
    )
    return [article, *cards]
