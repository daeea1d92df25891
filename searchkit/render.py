"""Turning results into text for people (terminal or pipe) and JSON for
machines.  The last stage of the pipeline: nothing here searches."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass

from .results import Document, Hit, Results, Stats


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


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut at the highlight spans: (part, is_match) pairs.  The
    terminal marks the matches with styles, the web page with <mark>."""
    out, last = [], 0
    for s, e in sorted(spans):
        s = max(s, last)
        if s >= e:
            continue
        if s > last:
            out.append((text[last:s], False))
        out.append((text[s:e], True))
        last = e
    if last < len(text):
        out.append((text[last:], False))
    return out


def mark(text: str, spans: list[tuple[int, int]], style: Style) -> str:
    return "".join(f"{style.open}{part}{style.close}" if hit else part for part, hit in segments(text, spans))


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


MIN_HEADLINE = 16  # columns a headline keeps beside its facts, or the facts take a line of their own


def format_hit(rank: int, hit: Hit, style: Style, width: int | None = None) -> str:
    """Two or three lines: rank, headline (an untitled record shows the
    start of its body) and facts, cut to ``width`` columns; id and sources;
    the snippet."""
    meta = " · ".join(x for x in (hit.kind, hit.date, hit.category) if x)
    tail = f"({meta}, score {hit.score:.2f})"
    headline = hit.headline or hit.title
    # The facts follow the headline, or go to a line of their own where they would leave it too little room.
    lead = f"{rank:>2}. "  # wider from rank 100
    own_line = width is not None and width - len(lead) - 2 - cells(tail) < MIN_HEADLINE
    room = None if width is None else width - len(lead) if own_line else width - len(lead) - 2 - cells(tail)
    lines = [f"{lead}{_fit_marked(headline, hit.title_highlights, style, room)}" + ("" if own_line else f"  {tail}")]
    if own_line:
        lines.append(f"    {_fit_marked(tail, [], style, width - 4)}")
    where = ", ".join(display_path(s) for s in hit.sources[:3])
    if len(hit.sources) > 3:
        where += f" (+{len(hit.sources) - 3} more)"
    ids = f"{hit.id}  {where}" if where else hit.id
    lines.append(f"    {ids if width is None else fit(ids, [], max(width - 4, 1))[0]}")
    if hit.snippet:
        body, spans = fit(hit.snippet, hit.highlights, None if width is None else max(width - 6, 10) * 2)
        lines.append(f"    …{mark(body, spans, style)}…")
    if hit.missing:
        lines.append(f"    missing: {' '.join(hit.missing)}")
    return "\n".join(lines)


def past_last_page(results: Results) -> str | None:
    """Why a page holds no hits although the query matched."""
    listed = results.total + results.partial
    if results.hits or not listed:
        return None
    last = -(-listed // results.limit)
    more = f" (+{results.partial} partial matches)" if results.partial else ""
    return (f"page {results.page} is past the last page ({last}) of {results.total} results{more} "
            f"for {results.query!r}")


def format_notes(results: Results) -> list[str]:
    """What the engine did to the query, for stderr."""
    notes = []
    if results.pinyin:
        notes.append(f"searchkit: read as pinyin: {' '.join(results.pinyin)}")
    if results.relaxed:
        notes.append("searchkit: nothing holds all the required words or phrases; they were made optional")
    if results.corrected:
        notes.append(f"searchkit: showing results for {results.corrected}; search instead for {results.query} "
                     "(--no-suggest)")
    elif results.suggestion:
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
    parts = []
    for i, h in enumerate(results.hits):
        if h.partial and (i == 0 or not results.hits[i - 1].partial):
            parts.append("--- partial matches (only some characters of the query) ---")
        parts.append(format_hit(first + i, h, style, width))
    shown = f"{first}-{first + len(results.hits) - 1}" if results.hits else "none"
    more = f" (+{results.partial} partial matches)" if results.partial else ""
    query = results.corrected or results.query
    parts.append(f"{results.total} results for {query!r}{more} (showing {shown})")
    return "\n\n".join(parts)


def hit_dict(hit: Hit) -> dict:
    return {
        "id": hit.id, "kind": hit.kind, "title": hit.title, "score": round(hit.score, 4), "date": hit.date,
        "category": hit.category, "sources": hit.sources, "snippet": hit.snippet,
        "highlights": [list(s) for s in hit.highlights], "missing": hit.missing, "partial": hit.partial,
    }


def results_dict(results: Results) -> dict:
    """The stable JSON shape of search results: `searchkit search --json` and
    the HTTP API's /api/search both print this."""
    return {"query": results.query, "total": results.total, "partial": results.partial,
            "corrected": results.corrected, "page": results.page, "relaxed": results.relaxed,
            "suggestion": results.suggestion, "pinyin": results.pinyin, "facets": results.facets,
            "hits": [hit_dict(h) for h in results.hits]}


def similar_dict(doc_id: str, hits: list[Hit]) -> dict:
    return {"id": doc_id, "hits": [hit_dict(h) for h in hits]}


def to_json(data: object) -> str:
    """JSON for people and machines alike: Chinese unescaped, indented."""
    return json.dumps(data, ensure_ascii=False, indent=2)


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
