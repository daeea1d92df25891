"""Turning results into text for people (terminal or pipe) and JSON for
machines.  The last stage of the pipeline: nothing here searches."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass

from .search import Document, Hit, Results, Stats


@dataclass(frozen=True)
class Style:
    """How matches are marked: ANSI on a colour terminal, brackets otherwise."""

    open: str
    close: str
    cells: int = 0  # terminal columns the marks around one match take

    @classmethod
    def for_stream(cls, isatty: bool) -> Style:
        if isatty and not os.environ.get("NO_COLOR"):
            return cls("\x1b[1;31m", "\x1b[0m")
        return cls("[", "]", 2)


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


def _cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def cells(text: str) -> int:
    """Terminal columns ``text`` takes: wide (Han, full-width) characters two."""
    return sum(_cells(ch) for ch in text)


def fit(text: str, spans: list[tuple[int, int]], cells: int | None) -> tuple[str, list[tuple[int, int]]]:
    """Cut ``text`` to ``cells`` terminal columns (wide characters take two),
    at a character boundary, with … at the cut; spans are clipped to match."""
    if cells is None:
        return text, spans
    used = 0
    for i, ch in enumerate(text):
        used += _cells(ch)
        if used > cells - 1:
            kept = text[:i] + "…"
            return kept, [(s, min(e, i)) for s, e in spans if s < i]
    return text, spans


def _fit_marked(text: str, spans: list[tuple[int, int]], style: Style, room: int | None) -> str:
    """``text`` with its matches marked, in ``room`` columns marks included."""
    kept, kept_spans = fit(text, spans, room)
    if room is not None and style.cells and cells(kept) + style.cells * len(kept_spans) > room:
        kept, kept_spans = fit(text, spans, max(room - style.cells * len(kept_spans), 1))
    return mark(kept, kept_spans, style)


def format_hit(rank: int, hit: Hit, style: Style, width: int | None = None) -> str:
    """Two or three lines: rank, headline (an untitled record shows the
    start of its body) and facts, cut to ``width`` columns; id and sources;
    the snippet."""
    meta = " · ".join(x for x in (hit.kind, hit.date, hit.category) if x)
    tail = f"  ({meta}, score {hit.score:.2f})"
    room = None if width is None else max(width - 4 - cells(tail), 10)
    lines = [f"{rank:>2}. {_fit_marked(hit.headline or hit.title, hit.title_highlights, style, room)}{tail}"]
    where = ", ".join(display_path(s) for s in hit.sources[:3])
    if len(hit.sources) > 3:
        where += f" (+{len(hit.sources) - 3} more)"
    lines.append(f"    {hit.id}  {where}" if where else f"    {hit.id}")
    if hit.snippet:
        body, spans = fit(hit.snippet, hit.highlights, None if width is None else max(width - 6, 10) * 2)
        lines.append(f"    …{mark(body, spans, style)}…")
    return "\n".join(lines)


def past_last_page(results: Results) -> str | None:
    """Why a page holds no hits although the query matched."""
    if results.hits or not results.total:
        return None
    last = -(-results.total // results.limit)
    return f"page {results.page} is past the last page ({last}) of {results.total} results for {results.query!r}"


def format_notes(results: Results) -> list[str]:
    """What the engine did to the query, for stderr."""
    notes = []
    if results.pinyin:
        notes.append(f"searchkit: read as pinyin: {' '.join(results.pinyin)}")
    if results.relaxed:
        notes.append("searchkit: no exact match for the required words or phrases; showing partial matches")
    if results.suggestion:
        notes.append(f"searchkit: did you mean: {results.suggestion}")
    return notes


def format_facets(facets: dict[str, dict[str, int]], top: int = 8) -> str:
    lines = ["facets:"]
    for name, counts in facets.items():
        shown = ", ".join(f"{v} {c}" for v, c in list(counts.items())[:top])
        more = f" (+{len(counts) - top} more)" if len(counts) > top else ""
        lines.append(f"  {name}: {shown or '-'}{more}")
    return "\n".join(lines)


def format_stats(st: Stats) -> str:
    docs = ", ".join(f"{n} {k}s" for k, n in st.documents.items())
    lines = [f"index       {st.index_dir}", f"documents   {sum(st.documents.values())} ({docs})",
             f"vocabulary  {st.vocabulary} words", f"size        {st.size_bytes / 1e6:.1f} MB in {st.segments} segment(s)",
             f"built       {st.built or 'unknown'}", f"format      {st.format_version}",
             f"sources     {len(st.sources)} files"]
    lines += [f"  {display_path(s)}" for s in st.sources[:10]]
    if len(st.sources) > 10:
        lines.append(f"  … and {len(st.sources) - 10} more")
    return "\n".join(lines)


def format_results(results: Results, style: Style, width: int | None = None) -> str:
    first = (results.page - 1) * results.limit + 1
    parts = [format_hit(first + i, h, style, width) for i, h in enumerate(results.hits)]
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
                       "relaxed": results.relaxed, "suggestion": results.suggestion, "pinyin": results.pinyin,
                       "facets": results.facets, "hits": [hit_dict(h) for h in results.hits]},
                      ensure_ascii=False, indent=2)


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
