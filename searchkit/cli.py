"""The ``searchkit`` command: a thin layer over the library.

Exit codes: 0 success, 1 no results, 2 usage/index/query errors, 3 the
index is locked by another run.  User mistakes print one line, never a
traceback.  Settings: flags > environment > searchkit.toml /
[tool.searchkit] (see :mod:`searchkit.config`) > defaults.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from functools import wraps

import click

from . import __version__, config
from .errors import SearchkitError, SkippedInputError

DEFAULT_SOURCES = "seeds"


def _fail(message: str, code: int) -> None:
    click.echo(f"searchkit: {message}", err=True)
    sys.exit(code)


def _reader_gone() -> None:
    """stdout's reader went away (``| head``): exit quietly as a process
    killed by SIGPIPE would, with stdout pointed at /dev/null so that
    Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(141)


def handle_errors(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SearchkitError as e:
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            _reader_gone()
    return wrapper


def _index_dir_option(fn):
    return click.option("--index-dir", envvar="SEARCHKIT_INDEX", default="index", show_default=True,
                        type=click.Path(file_okay=False), help="Index directory (env: SEARCHKIT_INDEX).")(fn)


def _json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def _open(index_dir: str, rerank: bool = True):
    from .search import SearchIndex

    return SearchIndex.open(index_dir, rerank=rerank)


def _style():
    from .render import Style

    return Style.for_stream(sys.stdout.isatty())


def _width() -> int | None:
    """Columns to fit lines to: COLUMNS when set (also when piped), else the
    terminal's; None (no cutting) for a pipe."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def _verbosity_options(fn):
    """-q and -v after the command too (``searchkit search 医保 -q``), where
    a command that takes free words would otherwise read them as words."""
    def set_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        obj = ctx.ensure_object(dict)
        if value and param.name == "quiet":
            obj.update(quiet=True, verbose=False)
        elif value and not obj.get("quiet"):
            obj["verbose"] = True
    fn = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=set_flag,
                      help="Also print timings and every skipped file.")(fn)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=set_flag,
                        help="Print only results and errors.")(fn)


class _Main(click.Group):
    def main(self, *args, **kwargs):
        try:
            settings, _ = config.load()
        except SearchkitError as e:
            _fail(str(e), e.exit_code)
        kwargs.setdefault("default_map", config.default_map(settings))
        return super().main(*args, **kwargs)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="searchkit")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Also print timings and every skipped file.")
@click.pass_context
def main(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Full-text search for Chinese health articles."""
    ctx.obj = {"quiet": quiet, "verbose": verbose and not quiet}


class _Progress:
    """A progress bar with rate and ETA on stderr, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None
        self.done = 0
        self.start = time.monotonic()

    def _rate(self, _item) -> str:
        return f"{self.done / max(time.monotonic() - self.start, 1e-6):.0f} records/s"

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="indexing", file=sys.stderr, show_pos=True,
                                         show_eta=True, item_show_func=self._rate)
            self.bar.__enter__()
        self.bar.update(done - self.done, current_item=done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _warn(obj: dict, warnings: list) -> None:
    if obj["quiet"]:
        return
    shown = warnings if obj["verbose"] else warnings[:20]
    for w in shown:
        click.echo(f"searchkit: warning: {w}", err=True)
    if len(shown) < len(warnings):
        click.echo(f"searchkit: … and {len(warnings) - len(shown)} more warnings (-v lists all)", err=True)


@main.command()
@click.argument("sources", nargs=-1, type=click.Path())
@_index_dir_option
@click.option("--rebuild", is_flag=True, help="Build from scratch and swap the new index in atomically.")
@click.option("--wait", default=5.0, show_default=True, help="Seconds to wait for another run's lock.")
@click.option("--strict", is_flag=True, help="Exit 2 if any file or line was skipped.")
@_verbosity_options
@click.pass_obj
@handle_errors
def index(obj: dict, sources: tuple[str, ...], index_dir: str, rebuild: bool, wait: float, strict: bool) -> None:
    """Index SOURCES: .txt pages and .jsonl files, or directories of them
    (default: the `sources` setting, else seeds/).  Incremental unless --rebuild."""
    from .indexer import build_index

    configured = click.get_current_context().default_map or {}
    paths = list(sources) or list(configured.get("sources") or [DEFAULT_SOURCES])
    if not sources and not configured.get("sources") and not os.path.isdir(DEFAULT_SOURCES):
        _fail("no SOURCES given and no seeds/ directory here; name files or directories to index", 2)
    progress = _Progress(enabled=not obj["quiet"])
    # SIGTERM stops a run as Ctrl-C does: workers stopped, index as it was, lock released.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = build_index(paths, index_dir, rebuild=rebuild, wait=wait, progress=progress, strict=strict)
    except SkippedInputError as e:
        progress.close()
        _warn(obj, e.warnings)
        raise
    finally:
        progress.close()
    if not obj["quiet"]:
        for name in report.cleaned:
            click.echo(f"searchkit: removed leftover {name} from an interrupted run", err=True)
        _warn(obj, report.warnings)
        how = "rebuilt" if report.rebuilt else "updated"
        click.echo(f"{how} {report.index_dir}: {report.files} files read ({report.changed_files} new or changed, "
                   f"{report.removed_files} removed), {report.articles} articles and {report.cards} cards indexed, "
                   f"{report.deleted} records replaced or removed, {len(report.warnings)} skipped, "
                   f"{report.seconds:.2f}s")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED)
@_index_dir_option
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--page", "-p", default=1, show_default=True, type=click.IntRange(1, None))
@click.option("--kind", type=click.Choice(["article", "card"]))
@click.option("--since", metavar="YYYY-MM-DD", help="Only records dated on or after this day.")
@click.option("--until", metavar="YYYY-MM-DD", help="Only records dated on or before this day.")
@click.option("--facet", "facet_filters", multiple=True, metavar="NAME=VALUE",
              help="Only records with this facet value (kind, category, month, city); repeatable.")
@click.option("--facets", "show_facets", is_flag=True, help="Print counts by kind, category, month and city.")
@click.option("--sort", type=click.Choice(["relevance", "date"]), default="relevance", show_default=True)
@click.option("--no-suggest", is_flag=True, help="Do not suggest (or switch to) a better query.")
@click.option("--partial/--no-partial", default=True, show_default=True,
              help="Show partial matches (only some characters of the query) after the others.")
@_json_option
@_verbosity_options
@click.pass_obj
@handle_errors
def search(obj: dict, words: tuple[str, ...], index_dir: str, limit: int, page: int, kind: str | None,
           since: str | None, until: str | None, facet_filters: tuple[str, ...], show_facets: bool, sort: str,
           no_suggest: bool, partial: bool, as_json: bool) -> None:
    """Search the index for QUERY (its words may be given unquoted; -word
    excludes).  Exit 1 when nothing matches."""
    from .facets import parse_facet_filters
    from .render import format_facets, format_notes, format_results, past_last_page, results_dict, to_json

    typo = next((w for w in words if w.startswith("--") and w[2:3].isalpha()), None)
    if typo:
        _fail(f"no such option: {typo} (see searchkit search --help)", 2)
    query = " ".join(words)
    filters = parse_facet_filters(facet_filters)
    start = time.perf_counter()
    with _open(index_dir) as ix:
        results = ix.search(query, limit=limit, page=page, kind=kind, since=since, until=until,
                            facets=filters if (show_facets or as_json or filters) else None, sort=sort,
                            suggest=not no_suggest, partial=partial)
    elapsed = time.perf_counter() - start
    past_end = past_last_page(results)
    if past_end:
        _fail(past_end, 2)
    if as_json:
        click.echo(to_json(results_dict(results)))
    else:
        for note in [] if obj["quiet"] else format_notes(results):
            click.echo(note, err=True)
        if results.hits:
            click.echo(format_results(results, _style(), _width()))
        if show_facets:
            click.echo(format_facets(results.facets))
        if obj["verbose"]:
            click.echo(f"searchkit: {elapsed * 1000:.1f} ms", err=True)
    if not results.hits:
        if not as_json:
            click.echo(f"searchkit: no results for {query!r}", err=True)
        sys.exit(1)


@main.command()
@click.argument("doc_id")
@_index_dir_option
@_json_option
@handle_errors
def show(doc_id: str, index_dir: str, as_json: bool) -> None:
    """Print one record in full."""
    from .render import format_document, to_json

    with _open(index_dir) as ix:
        doc = ix.get(doc_id)
    if doc is None:
        _fail(f"no record with id {doc_id!r}", 1)
    click.echo(to_json(doc.__dict__) if as_json else format_document(doc))


@main.command()
@click.argument("doc_id")
@_index_dir_option
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 1000))
@_json_option
@handle_errors
def similar(doc_id: str, index_dir: str, limit: int, as_json: bool) -> None:
    """Records like DOC_ID (more like this)."""
    from .render import format_hit, similar_dict, to_json

    with _open(index_dir) as ix:
        hits = ix.similar(doc_id, limit=limit)
    if as_json:
        click.echo(to_json(similar_dict(doc_id, hits)))
    else:
        click.echo("\n\n".join(format_hit(i, h, _style(), _width()) for i, h in enumerate(hits, start=1)))
    if not hits:
        sys.exit(1)


@main.command()
@click.argument("prefix")
@_index_dir_option
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 100))
@_json_option
@handle_errors
def suggest(prefix: str, index_dir: str, limit: int, as_json: bool) -> None:
    """Complete PREFIX (Hanzi or pinyin) from titles and indexed words."""
    with _open(index_dir) as ix:
        found = ix.suggest(prefix, limit=limit)
    if as_json:
        click.echo(json.dumps([s.__dict__ for s in found], ensure_ascii=False))
    else:
        for s in found:
            click.echo(f"{s.text}\t{s.kind}\t{s.count}")
    if not found:
        _fail(f"no completions for {prefix!r}", 1)


@main.command()
@_index_dir_option
@_json_option
@handle_errors
def stats(index_dir: str, as_json: bool) -> None:
    """Documents by kind, vocabulary, size on disk, last build, sources."""
    from .render import format_stats

    with _open(index_dir) as ix:
        st = ix.stats()
    click.echo(json.dumps(st.__dict__, ensure_ascii=False, indent=2) if as_json else format_stats(st))


@main.command(name="eval")
@click.argument("queries", type=click.Path(dir_okay=False))
@click.argument("qrels", type=click.Path(dir_okay=False))
@_index_dir_option
@_json_option
@click.option("--per-query", is_flag=True, help="Also list the worst queries.")
@click.option("--worst", default=20, show_default=True, help="How many worst queries --per-query lists.")
@click.option("--rerank/--no-rerank", default=True, show_default=True,
              help="Reorder the best results by the learned reranker (off: the first stage alone).")
@handle_errors
def eval_(queries: str, qrels: str, index_dir: str, as_json: bool, per_query: bool, worst: int,
         rerank: bool) -> None:
    """nDCG@10, MRR@10 and Recall@100 of the index on judged QUERIES (qid<TAB>text)
    and QRELS (qid<TAB>docid<TAB>relevance)."""
    from .evaluate import evaluate, read_qrels, read_queries

    qs, rels = read_queries(queries), read_qrels(qrels)
    with _open(index_dir, rerank) as ix:
        report = evaluate(ix, qs, rels)
    ranked = sorted(report.per_query, key=lambda s: (s.ndcg10, s.mrr10))[:worst]
    if report.missing:
        click.echo(f"searchkit: warning: {report.missing} of the {report.judged} judged-relevant ids are not "
                   "in the index", err=True)
    if as_json:
        out = {"ndcg@10": report.ndcg10, "mrr@10": report.mrr10, "recall@100": report.recall100,
               "queries": report.queries, "judged": report.judged, "missing": report.missing}
        if per_query:
            out["per_query"] = [s.__dict__ for s in report.per_query]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"queries     {report.queries}\nnDCG@10     {report.ndcg10:.4f}\n"
               f"MRR@10      {report.mrr10:.4f}\nRecall@100  {report.recall100:.4f}")
    if per_query:
        click.echo("\nworst queries (nDCG@10, MRR@10, Recall@100):")
        for s in ranked:
            click.echo(f"  {s.ndcg10:.3f} {s.mrr10:.3f} {s.recall100:.3f}  {s.qid}  {s.query}")


@main.command()
@_index_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (the default: this machine only).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes; each opens the index once and shares it between its requests.")
@click.pass_obj
@handle_errors
def serve(obj: dict, index_dir: str, host: str, port: int, workers: int) -> None:
    """Serve the search page and the JSON API (docs at /docs) over HTTP.
    Updates by `searchkit index` are picked up without a restart."""
    import uvicorn

    from .layout import current_generation

    current_generation(index_dir)  # no index: one line now, not an error page later
    os.environ["SEARCHKIT_INDEX"] = os.path.abspath(index_dir)  # what each worker's create_app() opens
    uvicorn.run("searchkit.web:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning" if obj["quiet"] else "info")


if __name__ == "__main__":
    main()
