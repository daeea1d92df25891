"""The JSON API: the library's answers in the same shapes as the CLI's
``--json`` (built by the same functions in :mod:`searchkit.render`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from ..errors import UsageError
from ..facets import FACETS, parse_facet_filters
from ..query import MAX_QUERY_CHARS
from ..render import results_dict, similar_dict
from ..search import Results, SearchIndex
from .live import LiveIndex

MAX_LIMIT = 100
MAX_PAGE = 1000
MAX_ID_CHARS = 200

router = APIRouter()


class ApiError(Exception):
    """A request the API refuses, with the HTTP status and the parameter at fault."""

    def __init__(self, status: int, message: str, parameter: str | None = None):
        super().__init__(message)
        self.status, self.parameter = status, parameter


@dataclass
class SearchParams:
    """A search as the URL states it; the search page keeps it in its links."""

    q: str = ""
    limit: int = 10
    page: int = 1
    kind: str | None = None
    since: str | None = None
    until: str | None = None
    facets: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    partial: bool = True  # show partial matches after the others
    suggest: bool = True  # suggest, or switch to, a better query


def facet_filters(values: list[str]) -> dict[str, list[str]]:
    """``["city:北京", "city:南京"]`` -> ``{"city": ["北京", "南京"]}`` (values
    of one facet OR-ed, facets AND-ed), checked as the CLI checks
    ``--facet city=北京``."""
    out: dict[str, list[str]] = {}
    for v in values:
        name, sep, value = v.partition(":")
        try:
            for k, vs in parse_facet_filters([f"{name}={value}" if sep else v]).items():
                out.setdefault(k, []).extend(vs)
        except UsageError:
            raise ApiError(422, f"facet takes NAME:VALUE with NAME one of {', '.join(FACETS)}, not {v!r}",
                           "facet") from None
    return out


def search_params(
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="The query (see the README's query syntax).")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Hits per page.")] = 10,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Which page of hits.")] = 1,
    kind: Annotated[Literal["article", "card"] | None, Query(description="Only articles or only cards.")] = None,
    since: Annotated[datetime.date | None, Query(description="Only records dated on or after this day.")] = None,
    until: Annotated[datetime.date | None, Query(description="Only records dated on or before this day.")] = None,
    facet: Annotated[list[str], Query(description="NAME:VALUE filter, e.g. city:北京 (kind, category, month, "
                                                  "city); repeatable.")] = [],  # noqa: B006 (FastAPI copies it)
    sort: Annotated[Literal["relevance", "date"], Query(description="Best first, or newest first.")] = "relevance",
    partial: Annotated[bool, Query(description="Include partial matches (only some characters of the query), "
                                               "after the others.")] = True,
    suggest: Annotated[bool, Query(description="Suggest a better query for few or no hits, and show its "
                                               "results when the query finds only partial matches.")] = True,
) -> SearchParams:
    if since and until and since > until:
        raise ApiError(422, f"since {since} is after until {until}", "since")
    return SearchParams(q=q, limit=limit, page=page, kind=kind, since=since and since.isoformat(),
                        until=until and until.isoformat(), facets=facet_filters(facet), sort=sort, partial=partial,
                        suggest=suggest)


def live_index(request: Request) -> LiveIndex:
    return request.app.state.live


def run_search(ix: SearchIndex, p: SearchParams) -> Results:
    """The search both the API and the page run: facet counts always, as
    ``searchkit search --json`` does."""
    return ix.search(p.q, limit=p.limit, page=p.page, kind=p.kind, since=p.since, until=p.until,
                     facets=p.facets, sort=p.sort, suggest=p.suggest, partial=p.partial)


RecordId = Annotated[str, Path(max_length=MAX_ID_CHARS, description="A record id, as in a hit's `id`.")]


@router.get("/api/search", tags=["api"])
def search(params: Annotated[SearchParams, Depends(search_params)], request: Request):
    """Ranked hits, facet counts, did-you-mean and pinyin readings: the shape
    of `searchkit search --json`.  No hits is 200 with `total: 0`; partial
    matches are counted in `partial`, not `total`."""
    with live_index(request).use() as ix:
        results = run_search(ix, params)
    return JSONResponse(results_dict(results))


@router.get("/api/records/{doc_id}", tags=["api"])
def record(doc_id: RecordId, request: Request):
    """One record in full: the shape of `searchkit show --json`."""
    with live_index(request).use() as ix:
        doc = ix.get(doc_id)
    if doc is None:
        raise ApiError(404, f"no record with id {doc_id!r}", "doc_id")
    return JSONResponse(vars(doc))


@router.get("/api/similar/{doc_id}", tags=["api"])
def similar(doc_id: RecordId, request: Request,
            limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many records.")] = 10):
    """More like this: the shape of `searchkit similar --json`."""
    with live_index(request).use() as ix:
        if ix.get(doc_id) is None:
            raise ApiError(404, f"no record with id {doc_id!r}", "doc_id")
        hits = ix.similar(doc_id, limit=limit)
    return JSONResponse(similar_dict(doc_id, hits))


@router.get("/api/suggest", tags=["api"])
def suggest(request: Request, q: Annotated[str, Query(min_length=1, max_length=100, description="A prefix, Hanzi or pinyin.")],
            limit: Annotated[int, Query(ge=1, le=20, description="How many completions.")] = 10):
    """Autocomplete: `[{"text", "kind", "count"}]`, as `searchkit suggest --json`."""
    with live_index(request).use() as ix:
        found = ix.suggest(q, limit=limit)
    return JSONResponse([vars(s) for s in found])


@router.get("/api/stats", tags=["api"])
def stats(request: Request):
    """Documents by kind, vocabulary, size, segments, last build: `searchkit stats --json`."""
    with live_index(request).use() as ix:
        return JSONResponse(vars(ix.stats()))


@router.get("/healthz", tags=["api"])
def healthz(request: Request):
    """200 while the index is open and answering; 503 with the reason otherwise."""
    with live_index(request).use() as ix:
        return JSONResponse({"status": "ok", "documents": len(ix)})

