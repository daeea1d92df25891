"""The search page and the record page, rendered on the server: they work
with JavaScript off, and the URL holds the whole state of a search.

Text from the index reaches the templates as plain strings (Jinja escapes
it); highlights are cut from the library's spans by
:func:`searchkit.render.segments`, never by replacing strings in HTML."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ..errors import QuerySyntaxError, UsageError
from ..render import segments
from ..search import Results, SearchIndex
from .api import ApiError, RecordId, SearchParams, live_index, run_search, search_params

HERE = os.path.dirname(__file__)
templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))
templates.env.globals["segments"] = segments
router = APIRouter(include_in_schema=False)
FACET_VALUES = 12  # values shown per facet
SIMILAR = 6
# The pages' own script and styles only: text from the index can never run as script.
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"


@dataclass
class Link:
    label: str
    url: str
    count: int | None = None
    active: bool = False


@dataclass
class Source:
    """Where a record came from: a page of the index (linked) or a file name."""

    name: str
    url: str | None


def state_url(base: str, p: SearchParams) -> str:
    """The URL of a search; defaults are left out, so links stay short."""
    items: list[tuple[str, object]] = [("q", p.q)]
    items += [(k, v) for k, v in (("kind", p.kind), ("since", p.since), ("until", p.until)) if v]
    items += [("facet", f"{name}:{value}") for name, values in p.facets.items() for value in values]
    if p.sort != "relevance":
        items.append(("sort", p.sort))
    if p.limit != SearchParams.limit:
        items.append(("limit", p.limit))
    if p.page > 1:
        items.append(("page", p.page))
    items += [(k, "false") for k, v in (("partial", p.partial), ("suggest", p.suggest)) if not v]
    return f"{base}/?{urlencode(items)}"


def facet_links(base: str, p: SearchParams, facets: dict[str, dict[str, int]]) -> dict[str, list[Link]]:
    """Per facet, its top values as links that add the filter (or, for the
    active one, remove it), back on page 1."""
    out = {}
    for name, counts in facets.items():
        links = []
        for value, count in list(counts.items())[:FACET_VALUES]:
            active = value in p.facets.get(name, [])
            chosen = without(p.facets, name, value) if active else p.facets | {name: [*p.facets.get(name, []), value]}
            links.append(Link(value, state_url(base, replace(p, facets=chosen, page=1)), count, active))
        if links:
            out[name] = links
    return out


def without(facets: dict[str, list[str]], name: str, value: str) -> dict[str, list[str]]:
    """The filters less one value (and less the facet, when it was its last)."""
    out = {k: [x for x in v if (k, x) != (name, value)] for k, v in facets.items()}
    return {k: v for k, v in out.items() if v}


def page_links(base: str, p: SearchParams, total: int) -> list[Link]:
    last = min(math.ceil(total / p.limit), 1000)
    shown = sorted({1, last} | set(range(max(p.page - 2, 1), min(p.page + 2, last) + 1)))
    return [Link(str(n), state_url(base, replace(p, page=n)), active=n == p.page) for n in shown]


def sources(ix: SearchIndex, paths: list[str], base: str, own_id: str | None = None) -> list[Source]:
    """A page's file stem is its article's id: link to it where the index has it."""
    out = []
    for path in paths:
        stem, ext = os.path.splitext(os.path.basename(path))
        known = ext == ".txt" and stem != own_id and ix.get(stem) is not None
        out.append(Source(os.path.basename(path), f"{base}/records/{stem}" if known else None))
    return out


def safe_url(url: str | None) -> str | None:
    """Only web addresses become links (never javascript: and the like)."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    context = {"q": "", "base": base_path(request), "status": status, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    return response


def base_path(request: Request) -> str:
    """Where the app is mounted ('' at the root)."""
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, params: Annotated[SearchParams, Depends(search_params)]):
    base = base_path(request)
    if not params.q.strip():
        return render(request, "search.html", params=params, home=True)
    with live_index(request).use() as ix:
        try:
            results = run_search(ix, params)
        except (QuerySyntaxError, UsageError) as e:
            return render(request, "search.html", 400, params=params, q=params.q, error=str(e))
        hit_sources = {h.id: sources(ix, h.sources[:3], base) for h in results.hits}
    return render(request, "search.html", params=params, q=params.q, results=results, sources=hit_sources,
                  facets=facet_links(base, params, results.facets), pages=page_links(base, params, results.total + results.partial),
                  filters=[Link(f"{name}: {value}",
                                state_url(base, replace(params, facets=without(params.facets, name, value), page=1)))
                           for name, values in params.facets.items() for value in values],
                  first=(params.page - 1) * params.limit + 1, notes=notes(base, params, results),
                  sorts=[Link(s, state_url(base, replace(params, sort=s, page=1)), active=s == params.sort)
                         for s in ("relevance", "date")])


def notes(base: str, p: SearchParams, results: Results) -> list[tuple[str, Link | None]]:
    """What the engine did to the query, with a link to search the reading."""
    out: list[tuple[str, Link | None]] = []
    if results.pinyin:
        reading = " ".join(results.pinyin)
        out.append(("read as pinyin:", Link(reading, state_url(base, SearchParams(q=reading)))))
    if results.relaxed:
        out.append(("nothing holds all the required words or phrases; they were made optional", None))
    if results.corrected:
        out.append((f"showing results for {results.corrected}; search instead for",
                    Link(results.query, state_url(base, replace(p, q=results.query, page=1, suggest=False)))))
    elif results.suggestion:
        out.append(("did you mean:", Link(results.suggestion, state_url(base, replace(p, q=results.suggestion, page=1)))))
    return out


@router.get("/records/{doc_id}", response_class=HTMLResponse)
def record_page(request: Request, doc_id: RecordId):
    base = base_path(request)
    with live_index(request).use() as ix:
        doc = ix.get(doc_id)
        if doc is None:
            raise ApiError(404, f"no record with id {doc_id!r}", "doc_id")
        similar = ix.similar(doc_id, limit=SIMILAR)
        doc_sources = sources(ix, doc.sources, base, own_id=doc.id)
    paragraphs = [line.strip() for line in doc.body.split("\n") if line.strip()]
    return render(request, "record.html", doc=doc, paragraphs=paragraphs, sources=doc_sources,
                  url=safe_url(doc.url), similar=similar)


@dataclass
class Parameter:
    name: str
    where: str  # "query" or "path"
    kind: str  # its type and bounds, as the schema gives them
    required: bool
    default: str
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[Parameter]


_BOUNDS = (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤"))


def _kind(schema: dict) -> str:
    types = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    names = [("list of " + _kind(t.get("items", {}))) if t.get("type") == "array" else
             ("one of " + ", ".join(map(str, t["enum"]))) if "enum" in t else t.get("format", t.get("type", "any"))
             for t in types]
    bounds = [f"{label} {b[key]}" for b in types for key, label in _BOUNDS if key in b]
    return " or ".join(names) + (f" ({', '.join(bounds)})" if bounds else "")


def operations(spec: dict) -> list[Operation]:
    """The API's operations as its OpenAPI schema describes them."""
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [Parameter(p["name"], p.get("in", ""), _kind(p.get("schema", {})), bool(p.get("required")),
                                "" if "default" not in p.get("schema", {}) else json.dumps(p["schema"]["default"]),
                                p.get("description", "") or p.get("schema", {}).get("description", ""))
                      for p in op.get("parameters", [])]
            out.append(Operation(method.upper(), path, op.get("summary", ""), op.get("description", ""), params))
    return out


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request):
    """The JSON API described from its OpenAPI schema, on the server:
    FastAPI's own page loads Swagger UI from a CDN and is blank offline."""
    return render(request, "api.html", operations=operations(request.app.openapi()))


PAGES = {search_page, record_page, api_docs}  # endpoints whose errors are shown as HTML
