"""The ``searchkit`` command: a thin layer over the library.

Exit codes: 0 success, 1 no results, 2 usage/index/query errors, 3 the
index is locked by another run.  User mistakes print one line, never a
traceback.
"""

from __future__ import annotations

import os
import sys
from functools import wraps

import click

from . import __version__
from .errors import SearchkitError

DEFAULT_SOURCES = "seeds"


def _fail(message: str, code: int) -> None:
    click.echo(f"searchkit: {message}", err=True)
    sys.exit(code)


def handle_errors(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SearchkitError as e:
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
    return wrapper


def _index_dir_option(fn):
    return click.option("--index-dir", envvar="SEARCHKIT_INDEX", default="index", show_default=True,
                        type=click.Path(file_okay=False), help="Index directory (env: SEARCHKIT_INDEX).")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="searchkit")
def main() -> None:
    """Full-text search for Chinese health articles."""


class _Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.bar = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="indexing", file=sys.stderr, show_pos=True)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@main.command()
@click.argument("sources", nargs=-1, type=click.Path())
@_index_dir_option
@click.option("--rebuild", is_flag=True, help="Build from scratch and swap the new index in atomically.")
@click.option("--wait", default=5.0, show_default=True, help="Seconds to wait for another run's lock.")
@click.option("--strict", is_flag=True, help="Exit 2 if any file or line was skipped.")
@handle_errors
def index(sources: tuple[str, ...], index_dir: str, rebuild: bool, wait: float, strict: bool) -> None:
    """Index SOURCES: .txt pages and .jsonl files, or directories of them
    (default: seeds/).  Incremental unless --rebuild."""
    from .indexer import build_index

    paths = list(sources) or [DEFAULT_SOURCES]
    if not sources and not os.path.isdir(DEFAULT_SOURCES):
        _fail("no SOURCES given and no seeds/ directory here; name files or directories to index", 2)
    progress = _Progress()
    try:
        report = build_index(paths, index_dir, rebuild=rebuild, wait=wait, progress=progress)
    finally:
        progress.close()
    for name in report.cleaned:
        click.echo(f"searchkit: removed leftover {name} from an interrupted run", err=True)
    for w in report.warnings:
        click.echo(f"searchkit: warning: {w}", err=True)
    how = "rebuilt" if report.rebuilt else "updated"
    click.echo(f"{how} {report.index_dir}: {report.files} files read ({report.changed_files} new or changed, "
               f"{report.removed_files} removed), {report.articles} articles and {report.cards} cards indexed, "
               f"{report.deleted} records replaced or removed, {len(report.warnings)} skipped, "
               f"{report.seconds:.2f}s")
    if strict and report.warnings:
        _fail(f"{len(report.warnings)} files or lines skipped (--strict)", 2)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED)
@_index_dir_option
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--page", "-p", default=1, show_default=True, type=click.IntRange(1, None))
@click.option("--kind", type=click.Choice(["article", "card"]))
@click.option("--since", metavar="YYYY-MM-DD", help="Only records dated on or after this day.")
@click.option("--until", metavar="YYYY-MM-DD", help="Only records dated on or before this day.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@handle_errors
def search(words: tuple[str, ...], index_dir: str, limit: int, page: int, kind: str | None, since: str | None,
           until: str | None, as_json: bool) -> None:
    """Search the index for QUERY (its words may be given unquoted; -word
    excludes).  Exit 1 when nothing matches."""
    from .render import Style, format_results, results_json
    from .search import SearchIndex

    typo = next((w for w in words if w.startswith("--") and w[2:3].isalpha()), None)
    if typo:
        _fail(f"no such option: {typo} (see searchkit search --help)", 2)
    query = " ".join(words)
    with SearchIndex.open(index_dir) as ix:
        results = ix.search(query, limit=limit, page=page, kind=kind, since=since, until=until)
    if as_json:
        click.echo(results_json(results))
    elif results.hits:
        click.echo(format_results(results, Style.for_stream(sys.stdout.isatty())))
    if not results.hits:
        if not as_json:
            click.echo(f"searchkit: no results for {query!r}", err=True)
        sys.exit(1)


@main.command()
@click.argument("doc_id")
@_index_dir_option
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def show(doc_id: str, index_dir: str, as_json: bool) -> None:
    """Print one record in full."""
    from .render import document_json, format_document
    from .search import SearchIndex

    with SearchIndex.open(index_dir) as ix:
        doc = ix.get(doc_id)
    if doc is None:
        _fail(f"no record with id {doc_id!r}", 1)
    click.echo(document_json(doc) if as_json else format_document(doc))


@main.command(name="eval")
@click.argument("queries", type=click.Path(dir_okay=False))
@click.argument("qrels", type=click.Path(dir_okay=False))
@_index_dir_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--per-query", is_flag=True, help="Also list the worst queries.")
@click.option("--worst", default=20, show_default=True, help="How many worst queries --per-query lists.")
@handle_errors
def eval_(queries: str, qrels: str, index_dir: str, as_json: bool, per_query: bool, worst: int) -> None:
    """nDCG@10, MRR@10 and Recall@100 of the index on judged QUERIES (qid<TAB>text)
    and QRELS (qid<TAB>docid<TAB>relevance)."""
    import json

    from .evaluate import evaluate, read_qrels, read_queries
    from .search import SearchIndex

    qs, rels = read_queries(queries), read_qrels(qrels)
    with SearchIndex.open(index_dir) as ix:
        report = evaluate(ix, qs, rels)
    ranked = sorted(report.per_query, key=lambda s: (s.ndcg10, s.mrr10))[:worst]
    if as_json:
        out = {"ndcg@10": report.ndcg10, "mrr@10": report.mrr10, "recall@100": report.recall100,
               "queries": report.queries}
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


if __name__ == "__main__":
    main()
