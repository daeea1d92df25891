"""Turning results into text for people (terminal or pipe) and JSON for
machines.  The last stage of the pipeline: nothing here searches."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .search import Document, Hit, Results


@dataclass(frozen=True)
class Style:
    """How matches are marked: ANSI on a colour terminal, brackets otherwise."""

    open: str
    close: str

    @classmethod
    def for_stream(cls, isatty: bool) -> Style:
        if isatty and not os.environ.get("NO_COLOR"):
            return cls("\x1b[1;31m", "\x1b[0m")
        return cls("[", "]")


def mark(text: str, spans: list[tuple[int, int]], style: Style) -> str:
    out, last = [], 0
    for s, e in spans:
        out += [text[last:s], style.open, text[s:e], style.close]
        last = e
    out.append(text[last:])
    return "".join(out)


def display_path(path: str) -> str:
    """Relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def format_hit(rank: int, hit: Hit, style: Style) -> str:
    meta = " · ".join(x for x in (hit.kind, hit.date, hit.category) if x)
    lines = [f"{rank:>2}. {mark(hit.title, hit.title_highlights, style)}  ({meta}, score {hit.score:.2f})"]
    where = ", ".join(display_path(s) for s in hit.sources[:3])
    if len(hit.sources) > 3:
        where += f" (+{len(hit.sources) - 3} more)"
    lines.append(f"    {hit.id}  {where}" if where else f"    {hit.id}")
    if hit.snippet:
        lines.append(f"    …{mark(hit.snippet, hit.highlights, style)}…")
    return "\n".join(lines)


def format_results(results: Results, style: Style) -> str:
    first = (results.page - 1) * results.limit + 1
    parts = [format_hit(first + i, h, style) for i, h in enumerate(results.hits)]
    shown = f"{first}-{first + len(results.hits) - 1}" if results.hits else "none"
    parts.append(f"{results.total} results for {results.query!r} (showing {shown})")
    return "\n\n".join(parts)


def hit_dict(hit: Hit) -> dict:
    return {
        "id": hit.id, "kind": hit.kind, "title": hit.title, "score": round(hit.score, 4), "date": hit.date,
        "category": hit.category, "sources": hit.sources, "snippet": hit.snippet,
        "highlights": [list(s) for s in hit.highlights],
    }


def results_json(results: Results) -> str:
    return json.dumps({"query": results.query, "total": results.total, "page": results.page,
                       "hits": [hit_dict(h) for h in results.hits]}, ensure_ascii=False, indent=2)


def format_document(doc: Document) -> str:
    meta = " · ".join(x for x in (doc.kind, doc.date, doc.category) if x)
    lines = [doc.title or "(untitled)", f"{doc.id} ({meta})"]
    lines += [f"source: {display_path(s)}" for s in doc.sources]
    if doc.url:
        lines.append(f"url: {doc.url}")
    lines += ["", doc.body]
    if doc.disclaimer:
        lines += ["", doc.disclaimer]
    return "\n".join(lines)


def document_json(doc: Document) -> str:
    return json.dumps(doc.__dict__, ensure_ascii=False, indent=2)
