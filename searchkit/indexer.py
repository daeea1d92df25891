"""Building and updating the on-disk index (its layout: :mod:`searchkit.layout`).

A rebuild writes a new ``gen-…`` directory and then replaces ``CURRENT`` in
one rename, so readers see the old index or the new one, never a half-built
one; a failed or killed rebuild leaves ``CURRENT`` as it was.  An incremental
update commits into the current generation: Whoosh's own commit is atomic
(a new TOC file), and the manifest that records each source's content hash
is written per Whoosh generation, so it always matches the index it describes.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
import signal
import time
from collections import Counter, deque
from contextlib import contextmanager, nullcontext
from dataclasses import astuple, dataclass, field
from typing import Callable, Iterator

from . import sources as src
from .analysis import Analyzed, analyze
from .codec import SearchkitCodec, cancel, merge_segment
from .errors import IndexUnreadableError, SkippedInputError
from .facets import places_in
from .layout import (GEN_PREFIX, POINTER, check_index_dir, clean_leftovers, default_index_dir, fsync_dir,
                     index_lock, manifest_path, prune_manifests, read_manifest, read_pointer, write_atomic)
from .pages import ARTICLE, Record
from .perdoc import hold_stored_fields
from .schema import FORMAT_VERSION, Preindexed

Progress = Callable[[int, int], None]
# Below these, starting worker processes costs more than it saves.
PARALLEL_FROM = 2000  # records (an update)
PARALLEL_FROM_BYTES = 2_000_000  # bytes of sources (a rebuild)
BATCH = 256  # records per analysis task
IN_FLIGHT = 8  # analysis tasks queued or running at a time
MAX_SEGMENTS = 8  # an update merges the small segments beyond this
MERGE_DELETED_SHARE = 0.3  # an update rewrites a segment once this share of its documents is deleted


@dataclass
class BuildReport:
    index_dir: str
    rebuilt: bool
    files: int = 0
    changed_files: int = 0
    removed_files: int = 0
    articles: int = 0
    cards: int = 0
    added: int = 0
    deleted: int = 0
    seconds: float = 0.0
    warnings: list[src.Warning_] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)


# -- records to documents ----------------------------------------------------

def _document(r: Record) -> dict:
    """Whoosh's fields of a record; its text fields' postings go to the
    codec as arrays (:func:`_add`)."""
    doc = {
        "id": r.id, "kind": r.kind, "title": Preindexed(r.title), "_stored_title": r.title,
        "body": Preindexed(r.body), "_stored_body": r.body, "sources": r.sources, "date": r.date,
        "category": r.category, "url": r.url, "disclaimer": r.disclaimer or None,
        "city": " ".join(places_in(r.title)) or None,
    }
    return {k: v for k, v in doc.items() if v is not None}


def _load_all(paths: dict[str, str], report: BuildReport) -> dict[str, src.SourceFile]:
    loaded = {}
    for p, name in paths.items():
        sf = src.load(p, name)
        report.warnings.extend(sf.warnings)
        loaded[p] = sf
    return loaded


def _rows(records: list[Record]) -> list[tuple[str, str, str]]:
    return [(r.title, "\n".join(r.headings), r.body) for r in records]


@contextmanager
def _workers() -> Iterator[object | None]:
    """One analysis process per core (none on one core).  Started before the
    sources are read, so the workers do not inherit (and, as Python's
    garbage collector walks them, copy) the parent's records."""
    procs = os.cpu_count() or 1
    if procs <= 1:
        yield None
        return
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with context.Pool(procs, initializer=_worker_started) as pool:
        yield pool


def _worker_started() -> None:
    """Ctrl-C is the parent's to handle (it stops the pool); a worker whose
    parent was killed outright is sent SIGTERM and ends quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: Pool.terminate() ends us
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass


def _analyzed(records: list[Record], pool) -> Iterator[tuple[list[Record], Analyzed]]:
    """Batches of records with their tokens, in order; analysis (jieba)
    dominates a build, so large ones go to the worker processes.  Consumes
    ``records``: a batch is let go once indexed, to bound memory."""
    batches = deque(records[i:i + BATCH] for i in range(0, len(records), BATCH))
    records.clear()
    if pool is None:
        while batches:
            batch = batches.popleft()
            yield batch, analyze(_rows(batch))
        return
    # A few batches in flight per worker: Pool.imap would queue every batch's
    # text at once, and results could pile up just as well.
    pending: deque = deque()
    while batches or pending:
        while batches and len(pending) < IN_FLIGHT:
            batch = batches.popleft()
            pending.append((batch, pool.apply_async(analyze, (_rows(batch),))))
        batch, result = pending.popleft()
        yield batch, result.get()


def _add(writer, records: list[Record], report: BuildReport, progress: Progress | None, pool=None) -> None:
    """Add (and consume) records in the writer's new segment: stored and
    id-like fields through Whoosh, text postings to the codec a batch at a
    time."""
    done, total = 0, len(records)
    for batch, tokens in _analyzed(records, pool):
        start = writer.docnum
        for r in batch:
            writer.add_document(**_document(r))
            if r.kind == ARTICLE:
                report.articles += 1
            else:
                report.cards += 1
        writer.fieldwriter.add_batch(start, tokens, len(batch))
        done += len(batch)
        if progress:
            progress(done, total)
    report.added += total


def _merge_small(writer, segments):
    """A Whoosh merge policy: a segment whose documents are mostly deleted
    (replaced by updates) is rewritten without them, and once there are
    MAX_SEGMENTS segments all but the one with most live documents are
    merged; text postings are copied as arrays (:func:`codec.merge_segment`)."""
    largest = max(segments, key=lambda seg: seg.doc_count(), default=None)
    many = len(segments) >= MAX_SEGMENTS
    kept = []
    for seg in segments:
        if seg.deleted_count() > MERGE_DELETED_SHARE * seg.doc_count_all() or (many and seg is not largest):
            merge_segment(writer, seg)
        else:
            kept.append(seg)
    return kept


def _manifest(files: dict[str, dict], repeated: list[src.Warning_]) -> dict:
    """The sources, and the records skipped for an id another record holds
    (no one file's to remember: they come and go with the other files)."""
    return {"format": FORMAT_VERSION, "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "sources": files,
            "repeated": [[w.source, w.line, w.reason, w.record] for w in repeated]}


def _remembered(manifest: dict, paths: dict[str, str]) -> list[src.Warning_]:
    """The records skipped for their id when the manifest was written.  An
    index written before manifests kept them has its sources merged again
    to find them, until an update that changes something writes them down."""
    if "repeated" in manifest:
        return [src.Warning_(*w) for w in manifest["repeated"]]
    return src.merge_records([r for p, name in paths.items() for r in src.load(p, name).records])[1]


def _entry(sf: src.SourceFile) -> dict:
    """What the manifest keeps of a source: its hash and stat, a hash of
    each record, so an update re-indexes only records that changed, and
    what reading it skipped, so an update that leaves it alone still says so."""
    entry = {"digest": sf.digest, "stat": list(sf.stat or ()), "records": _record_digests(sf.records)}
    if sf.warnings:
        entry["warnings"] = [[w.line, w.reason] for w in sf.warnings]
    return entry


def _record_digests(records: list[Record]) -> dict[str, str]:
    """A hash of each id's record: of its first, where a file uses an id
    twice, which is the one indexed (:func:`sources.merge_records`)."""
    digests: dict[str, str] = {}
    for r in records:
        if r.id not in digests:
            digests[r.id] = hashlib.sha1(repr(astuple(r)).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return digests


def _changed_ids(entry: dict, records: list[Record]) -> set[str]:
    """Ids of records that are new, gone or different since ``entry``."""
    before, after = entry.get("records", {}), _record_digests(records)
    return {i for i in before.keys() | after.keys() if before.get(i) != after.get(i)}


def _digest_if_changed(path: str, entry: dict) -> str:
    """The file's content hash, without reading it when size and mtime are
    those recorded with the old hash."""
    stat = src.stat_key(path)
    if stat is not None and entry.get("digest") and entry.get("stat") == list(stat):
        return entry["digest"]
    try:
        return src.digest_of(src.read_bytes(path))
    except (OSError, src.DecodeError):
        return ""


# -- the two ways to write ---------------------------------------------------

def _rebuild(index_dir: str, paths: dict[str, str], pointer: dict | None, report: BuildReport,
             progress: Progress | None, strict: bool) -> None:
    gen_name = f"{GEN_PREFIX}{time.time_ns():x}"
    gen_dir = os.path.join(index_dir, gen_name)
    os.makedirs(gen_dir)
    try:
        _build_generation(gen_dir, paths, report, progress, strict)
    except BaseException:
        shutil.rmtree(gen_dir, ignore_errors=True)  # a run that failed (not one killed) leaves nothing
        raise
    previous = pointer and pointer.get("current")
    pointer = {"format": FORMAT_VERSION, "current": gen_name, "previous": previous}
    write_atomic(os.path.join(index_dir, POINTER), pointer)
    # Older generations are superseded, not leftovers: removed without a word
    # (readers still on one keep their open files).
    clean_leftovers(index_dir, pointer)
    report.changed_files = len(paths)


def _check_strict(report: BuildReport, strict: bool) -> None:
    if strict and report.warnings:
        raise SkippedInputError(f"{len(report.warnings)} files or lines skipped (--strict); the index is unchanged",
                                report.warnings)


def _build_generation(gen_dir: str, paths: dict[str, str], report: BuildReport, progress: Progress | None,
                      strict: bool) -> None:
    from whoosh import index as whoosh_index

    from .schema import make_schema

    large = sum((src.stat_key(p) or (0, 0))[0] for p in paths) >= PARALLEL_FROM_BYTES
    with _workers() if large else nullcontext() as pool:
        loaded = _load_all(paths, report)
        entries = {p: _entry(sf) for p, sf in loaded.items() if sf.digest}
        records, repeated = src.merge_records([r for sf in loaded.values() for r in sf.records])
        report.warnings += repeated
        _check_strict(report, strict)
        del loaded  # _add lets records go as it indexes them
        ix = whoosh_index.create_in(gen_dir, make_schema())
        writer = ix.writer(codec=SearchkitCodec(), limitmb=128)
        try:
            _add(writer, records, report, progress, pool)
        except BaseException:
            cancel(writer)
            raise
    write_atomic(manifest_path(gen_dir, ix.latest_generation() + 1), _manifest(entries, repeated))
    writer.commit(merge=False)
    ix.close()
    fsync_dir(gen_dir)


def _update(index_dir: str, paths: dict[str, str], pointer: dict, report: BuildReport,
            progress: Progress | None, strict: bool) -> None:
    from whoosh import index as whoosh_index
    from whoosh.index import IndexError as WhooshIndexError

    gen_dir = os.path.join(index_dir, pointer["current"])
    damaged = (WhooshIndexError, OSError, EOFError, ValueError)

    def refuse(e: Exception) -> IndexUnreadableError:
        return IndexUnreadableError(index_dir, f"the index at {index_dir} cannot be opened ({e.__class__.__name__})")
    try:
        ix = whoosh_index.open_dir(gen_dir)
    except damaged as e:
        raise refuse(e) from None
    manifest = read_manifest(gen_dir, ix.latest_generation())
    old = manifest["sources"]
    digests = {p: _digest_if_changed(p, old.get(p, {})) for p in paths}
    changed = [p for p in paths if old.get(p, {}).get("digest") != digests[p]]
    removed = [p for p in old if p not in digests]
    report.changed_files, report.removed_files = len(changed), len(removed)
    report.warnings += [src.Warning_(p, line, reason) for p in paths if p not in changed
                        for line, reason in old.get(p, {}).get("warnings", ())]
    try:
        # Open every segment and its part files: a damaged index is refused
        # (or, with nothing to do, reported), never extended.
        with ix.reader() as reader:  # opening a segment's reader maps its part files
            hold_stored_fields(reader)
    except damaged as e:
        raise refuse(e) from None
    if not changed and not removed:
        ix.close()
        report.warnings += _remembered(manifest, paths)
        _check_strict(report, strict)
        return

    loaded = _load_all({p: paths[p] for p in changed}, report)
    affected = {i for p in removed for i in old[p].get("records", {})}
    affected |= {i for p in changed for i in _changed_ids(old.get(p, {}), loaded[p].records)}
    gone = set(changed) | set(removed)
    # A record skipped for its id, or the one that kept it, in a file that
    # changed: the id may change hands or stop being skipped, so it is merged
    # again; so is an id a changed file uses twice (a conflict that is new
    # otherwise involves a record that is new or changed).
    remembered = _remembered(manifest, paths)
    affected |= {w.record for w in remembered} & {i for p in gone for i in old.get(p, {}).get("records", {})}
    affected |= {i for p in changed for i, n in Counter(r.id for r in loaded[p].records).items() if n > 1}
    # A card shared with untouched pages must keep listing them: re-parse
    # those pages (parsing is cheap; only affected records are re-analyzed).
    also = sorted({p for p, e in old.items() if p not in gone and affected.intersection(e.get("records", {}))})
    records = [r for sf in loaded.values() for r in sf.records]
    records += [r for p in also for r in src.load(p, paths[p]).records]
    merged, repeated = src.merge_records(records)
    # Skips of ids merged again are found again (of the others, this merge
    # saw only some files: it may name the wrong keeper); the others still hold.
    kept = [w for w in remembered if w.source not in gone and w.record not in affected]
    repeated = kept + [w for w in repeated if w.record in affected]
    report.warnings += repeated
    _check_strict(report, strict)
    fresh = [r for r in merged if r.id in affected]

    files = {p: e for p, e in old.items() if p not in gone}
    files.update({p: _entry(sf) for p, sf in loaded.items() if sf.digest})
    try:
        writer = ix.writer(codec=SearchkitCodec(), limitmb=256)
    except damaged as e:
        raise refuse(e) from None
    try:
        for doc_id in sorted(affected):
            report.deleted += writer.delete_by_term("id", doc_id)
        with _workers() if len(fresh) >= PARALLEL_FROM else nullcontext() as pool:
            _add(writer, fresh, report, progress, pool)
    except BaseException:
        cancel(writer)
        raise
    write_atomic(manifest_path(gen_dir, ix.latest_generation() + 1), _manifest(files, repeated))
    writer.commit(mergetype=_merge_small)
    prune_manifests(gen_dir, ix.latest_generation())
    ix.close()


def build_index(paths: str | list[str], index_dir: str | None = None, rebuild: bool = False, wait: float = 5.0,
                progress: Progress | None = None, strict: bool = False) -> BuildReport:
    """Index ``paths`` (files or directories of ``.txt`` pages and ``.jsonl``;
    a string is one of them).  One that does not exist raises UsageError
    and leaves the index as it was.

    Incremental unless ``rebuild`` or there is no index yet: only new or
    changed files are re-indexed and files no longer among ``paths`` are
    removed.  Raises :class:`IndexLockedError` if another run holds the lock
    for longer than ``wait`` seconds; with ``strict``, a skipped file or line
    raises :class:`SkippedInputError` and changes nothing.
    """
    index_dir = index_dir or default_index_dir()
    start = time.perf_counter()
    files, warnings = src.discover(paths)
    check_index_dir(index_dir)
    os.makedirs(index_dir, exist_ok=True)
    with index_lock(index_dir, wait):
        pointer = read_pointer(index_dir) if os.path.exists(os.path.join(index_dir, POINTER)) else None
        if pointer and not rebuild and pointer.get("format") != FORMAT_VERSION:
            raise IndexUnreadableError(index_dir, f"the index at {index_dir} was built by an incompatible searchkit")
        report = BuildReport(index_dir, rebuilt=rebuild or pointer is None, files=len(files), warnings=warnings)
        report.cleaned = clean_leftovers(index_dir, pointer)
        if report.rebuilt:
            _rebuild(index_dir, files, pointer, report, progress, strict)
        else:
            _update(index_dir, files, pointer, report, progress, strict)
    report.seconds = time.perf_counter() - start
    return report


def update_index(paths: list[str], index_dir: str | None = None, **kwargs) -> BuildReport:
    """Incremental :func:`build_index` (the default); named for library users."""
    return build_index(paths, index_dir, rebuild=False, **kwargs)
