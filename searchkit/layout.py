"""The layout of an index directory, and the small atomic steps that change it.

    CURRENT            {"format": 4, "current": "gen-…", "previous": "gen-…"}
    .lock              held (flock) by the one `searchkit index` run at a time
    gen-<id>/          a Whoosh index plus manifest.<whoosh generation>.json

Readers follow ``CURRENT``; writers (:mod:`searchkit.indexer`) hold the lock,
write a file beside its final name and rename it into place.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
from contextlib import contextmanager
from typing import Iterator

from .errors import IndexLockedError, IndexMissingError, IndexUnreadableError, UsageError
from .schema import FORMAT_VERSION

POINTER = "CURRENT"
LOCK = ".lock"
GEN_PREFIX = "gen-"
MANIFEST = re.compile(r"^manifest\.([0-9]+)\.json$")
_IGNORABLE = ("README", ".gitkeep", ".gitignore")

def default_index_dir() -> str:
    return os.environ.get("SEARCHKIT_INDEX") or "index"


# -- reading the layout ------------------------------------------------------

def read_pointer(index_dir: str) -> dict | None:
    path = os.path.join(index_dir, POINTER)
    try:
        with open(path, encoding="utf-8") as f:
            pointer = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise IndexUnreadableError(index_dir, f"{index_dir} is not a readable searchkit index ({e.__class__.__name__})") from None
    current = pointer.get("current") if isinstance(pointer, dict) else None
    if not isinstance(current, str) or not current.startswith(GEN_PREFIX) or os.sep in current:
        raise IndexUnreadableError(index_dir, f"{index_dir} has a damaged {POINTER} file")
    return pointer


def current_generation(index_dir: str) -> str:
    """The directory of the index readers should open now."""
    if not os.path.isdir(index_dir):
        raise IndexMissingError(f"no index at {index_dir}; build it with: searchkit index --index-dir {index_dir}")
    pointer = read_pointer(index_dir)
    if pointer is None:
        raise IndexMissingError(f"no index at {index_dir}; build it with: searchkit index --index-dir {index_dir}")
    if pointer.get("format") != FORMAT_VERSION:
        raise IndexUnreadableError(index_dir, f"the index at {index_dir} was built by an incompatible searchkit "
                                              f"(format {pointer.get('format')}, this is {FORMAT_VERSION})")
    return os.path.join(index_dir, pointer["current"])


def manifest_path(gen_dir: str, whoosh_generation: int) -> str:
    return os.path.join(gen_dir, f"manifest.{whoosh_generation}.json")


def read_manifest(gen_dir: str, whoosh_generation: int) -> dict:
    """The manifest of the index's newest commit by searchkit: a commit
    through Whoosh's own writer (records from no source) writes none."""
    found = [int(m.group(1)) for m in map(MANIFEST.match, os.listdir(gen_dir) if os.path.isdir(gen_dir) else [])
             if m and int(m.group(1)) <= whoosh_generation]
    try:
        with open(manifest_path(gen_dir, max(found, default=whoosh_generation)), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise IndexUnreadableError(os.path.dirname(gen_dir), "the index's source manifest is missing or damaged "
                                                             f"({e.__class__.__name__})") from None


def index_version(index_dir: str) -> tuple[str, int] | None:
    """What changes whenever `searchkit index` commits: the generation
    CURRENT names and the newest Whoosh table of segments (``_MAIN_<n>.toc``)
    in it; None while there is no index.  One small read and one directory
    listing, so a server can poll it."""
    pointer = read_pointer(index_dir) if os.path.isdir(index_dir) else None
    if pointer is None:
        return None
    try:
        names = os.listdir(os.path.join(index_dir, pointer["current"]))
    except FileNotFoundError:
        return pointer["current"], -1
    tocs = [int(n[6:-4]) for n in names if n.startswith("_MAIN_") and n.endswith(".toc") and n[6:-4].isdigit()]
    return pointer["current"], max(tocs, default=-1)


# -- writing helpers ---------------------------------------------------------

def write_atomic(path: str, data: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_index_dir(index_dir: str) -> None:
    """Refuse to take over a directory that holds someone else's files."""
    if os.path.exists(index_dir) and not os.path.isdir(index_dir):
        raise UsageError(f"--index-dir {index_dir} is a file, not a directory")
    if not os.path.isdir(index_dir) or os.path.exists(os.path.join(index_dir, POINTER)):
        return
    foreign = [n for n in os.listdir(index_dir)
               if not n.startswith(_IGNORABLE) and n != LOCK and not n.startswith(GEN_PREFIX)]
    if foreign:
        raise UsageError(f"{index_dir} is not a searchkit index and not empty (it has {foreign[0]!r}); "
                         "choose another --index-dir")


@contextmanager
def index_lock(index_dir: str, wait: float) -> Iterator[None]:
    """One writer at a time; flock dies with its process, so a killed run
    never leaves a stale lock behind."""
    fd = os.open(os.path.join(index_dir, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(wait, 0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"another `searchkit index` run is updating {index_dir}; waited {wait:g}s "
                        "(try again later or raise --wait)") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def clean_leftovers(index_dir: str, pointer: dict | None) -> list[str]:
    """Remove what an interrupted run left: unfinished generations and
    temporary pointer files.  Safe only under the index lock."""
    keep = {pointer.get("current"), pointer.get("previous")} if pointer else set()
    cleaned = []
    for name in sorted(os.listdir(index_dir)):
        path = os.path.join(index_dir, name)
        if name.startswith(GEN_PREFIX) and name not in keep:
            shutil.rmtree(path, ignore_errors=True)
            cleaned.append(name)
        elif name.startswith(POINTER + ".tmp"):
            os.unlink(path)
            cleaned.append(name)
    return cleaned


def prune_manifests(gen_dir: str, whoosh_generation: int) -> None:
    """Keep the manifest of this commit and of the one before (a reader
    may still be on it)."""
    found = sorted(int(m.group(1)) for m in map(MANIFEST.match, os.listdir(gen_dir)) if m)
    for n in found[:-2]:
        if n < whoosh_generation:
            os.unlink(manifest_path(gen_dir, n))
