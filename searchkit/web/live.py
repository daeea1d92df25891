"""One open index per server process, shared by concurrent requests and
swapped for the new generation when `searchkit index` commits.

Requests take a lease on the current :class:`SearchIndex` and search it
without any lock held.  At most every ``check_every`` seconds a request looks
at :func:`~searchkit.layout.index_version`; when it changed, a background
thread opens the new index (and builds its facet table and vocabulary, so no
request pays for that), then swaps it in.  The old one is closed when its
last lease ends, so a request that started on it finishes on it.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from ..errors import SearchkitError
from ..layout import default_index_dir, index_version
from ..search import SearchIndex

log = logging.getLogger("searchkit.web")


@dataclass(eq=False)
class _Generation:
    index: SearchIndex
    version: tuple[str, int] | None
    users: int = 0
    retired: bool = False  # swapped out: close when the last user leaves
    closed: bool = False


def _warm(index: SearchIndex) -> None:
    """Build the facet table, vocabulary and title list now, not in the first
    request that needs them."""
    index.search("医", limit=1, facets={})
    index.suggest("yi", limit=1)
    index.suggest("医", limit=1)


class LiveIndex:
    """The index a server answers from; see the module docstring."""

    def __init__(self, index_dir: str | None = None, check_every: float = 1.0):
        self.index_dir = index_dir or default_index_dir()
        self.check_every = check_every
        self._lock = threading.Lock()  # guards the fields below; never held while searching or opening
        self._opening = threading.Lock()  # one open at a time
        self._current: _Generation | None = None
        self._checked = 0.0
        self._reloading = False

    @contextmanager
    def use(self) -> Iterator[SearchIndex]:
        """Lease the current index for one request.  Raises IndexMissingError
        or IndexUnreadableError while there is no usable index."""
        gen = self._acquire()
        try:
            yield gen.index
        finally:
            self._release(gen)

    def _acquire(self) -> _Generation:
        now = time.monotonic()
        with self._lock:
            gen = self._current
            due = gen is not None and not self._reloading and now - self._checked >= self.check_every
            if due:
                self._checked, self._reloading = now, True
            if gen is not None:
                gen.users += 1
        if due:
            threading.Thread(target=self._reload, args=(gen.version,), name="searchkit-reload", daemon=True).start()
        return gen if gen is not None else self._first()

    def _first(self) -> _Generation:
        """Open the index for the first request (or after it was missing);
        requests arriving meanwhile wait for this one open."""
        with self._opening:
            with self._lock:
                if self._current is not None:
                    self._current.users += 1
                    return self._current
            gen = self._load()
            with self._lock:
                self._current, self._checked = gen, time.monotonic()
                gen.users += 1
            return gen

    def _load(self) -> _Generation:
        version = index_version(self.index_dir)  # before opening: a commit in between is seen next time
        index = SearchIndex.open(self.index_dir)
        try:
            _warm(index)
        except BaseException:
            index.close()
            raise
        return _Generation(index, version)

    def _reload(self, seen: tuple[str, int] | None) -> None:
        try:
            if index_version(self.index_dir) in (seen, None):
                return
            with self._opening:
                fresh = self._load()
                with self._lock:
                    old, self._current = self._current, fresh
                    if old is not None:
                        old.retired = True
            if old is not None:
                self._release_retired(old)
            log.info("searchkit: now answering from %s", fresh.version)
        except SearchkitError as e:  # a damaged or half-deleted index: keep answering from the old one
            log.warning("searchkit: keeping the open index: %s", e)
        finally:
            with self._lock:
                self._reloading = False

    def _release(self, gen: _Generation) -> None:
        with self._lock:
            gen.users -= 1
        self._release_retired(gen)

    def _release_retired(self, gen: _Generation) -> None:
        """Close a swapped-out index once no request holds it (exactly once)."""
        with self._lock:
            close = gen.retired and gen.users == 0 and not gen.closed
            gen.closed = gen.closed or close
        if close:
            gen.index.close()

    def close(self) -> None:
        """Close the current index (at shutdown, when no request is running)."""
        with self._lock:
            gen, self._current = self._current, None
        if gen is not None:
            gen.index.close()
