"""Our inverted index of the text fields, stored beside Whoosh's segments.

Whoosh's writer spends several microseconds of Python on every posting; a
Chinese document has hundreds of distinct words and character grams, so
most of a build went there.  Here posting lists are counted and sorted with
NumPy a batch at a time and written as flat arrays, which readers map into
memory.  Whoosh still owns each document's stored fields, ids, filter
fields and deletions: a *part* file holds the text-field postings of a run
of documents of one Whoosh segment, named after it
(``MAIN_<segment id>.<first docnum>.skp``), so Whoosh's own clean-up deletes
the parts of segments it drops.

A part file: ``SKP1`` padded to 8 bytes, the arrays (each 8-byte aligned),
a JSON footer (``ndocs`` and, per array, dtype/offset/count) and the
footer's length as a little-endian u64.  Per field: the sorted terms as
UTF-8 joined by newlines with their byte offsets and 8-byte prefixes (for a
vectorized lookup), the posting offsets of each term, the (part-local)
document numbers and term frequencies of every posting, and each
document's length in tokens.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .analysis import Tokens

MAGIC = b"SKP1"
SUFFIX = ".skp"
_ALIGN = 8
_NAME = re.compile(r"^(?P<segment>.+)\.(?P<start>[0-9]+)\.skp$")
_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.float32))


def _encode(term: str) -> bytes:
    return term.encode("utf-8", "surrogatepass")


def _prefixes(encoded: list[bytes]) -> np.ndarray:
    """The first 8 bytes of each term as a big-endian integer (zero-padded):
    sorted like the terms themselves."""
    return np.frombuffer(b"".join(e[:8].ljust(8, b"\0") for e in encoded), dtype=">u8").astype(np.uint64)


@dataclass
class _FieldRuns:
    vocab: dict[str, int] = field(default_factory=dict)
    terms: list[np.ndarray] = field(default_factory=list)
    docs: list[np.ndarray] = field(default_factory=list)
    tfs: list[np.ndarray] = field(default_factory=list)
    lengths: list[np.ndarray] = field(default_factory=list)


class Accumulator:
    """Collects the postings of consecutive documents until written as one
    part.  Memory is about 10 bytes per posting: flush by :attr:`postings`."""

    def __init__(self, fields: tuple[str, ...]):
        self.fields = {name: _FieldRuns() for name in fields}
        self.ndocs = 0
        self.postings = 0

    def add(self, tokens: dict[str, Tokens], ndocs: int) -> None:
        """Add a batch of ``ndocs`` documents analyzed by :func:`analysis.analyze`."""
        for name, runs in self.fields.items():
            t = tokens[name]
            width = max(len(t.terms), 1)
            keys, tf = np.unique(t.docs.astype(np.int64) * width + t.ids, return_counts=True)
            self._append(runs, t.terms, (keys % width).astype(np.int64), (keys // width).astype(np.int32),
                         tf, np.bincount(t.docs, minlength=ndocs)[:ndocs])
        self.ndocs += ndocs

    def add_part(self, part: Part, live: np.ndarray) -> None:
        """Add the live documents of ``part`` (``live[i]``: keep its document
        i), renumbered in order, as Whoosh's merge renumbers them."""
        new_of = np.cumsum(live, dtype=np.int64) - 1
        for name, runs in self.fields.items():
            terms, term_of, docs, tf, lengths = part.field_arrays(name)
            keep = live[docs]
            self._append(runs, terms, term_of[keep], new_of[docs[keep]].astype(np.int32),
                         tf[keep], lengths[live])
        self.ndocs += int(live.sum())

    def _append(self, runs: _FieldRuns, terms: list[str], term_of: np.ndarray, docs: np.ndarray,
                tf: np.ndarray, lengths: np.ndarray) -> None:
        vocab = runs.vocab
        to_global = np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), np.int64, len(terms))
        runs.terms.append(to_global[term_of].astype(np.int32) if len(terms) else np.zeros(0, np.int32))
        runs.docs.append(docs + self.ndocs)
        runs.tfs.append(np.minimum(tf, 65535).astype(np.uint16))
        runs.lengths.append(np.asarray(lengths, dtype=np.uint32))
        self.postings += int(docs.size)

    def write(self, path: str) -> None:
        """Write the part atomically (temporary file, fsync, rename), one
        field at a time, releasing what is written."""
        tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{os.path.basename(path)}")
        index: dict[str, list] = {}
        with open(tmp, "wb") as f:
            f.write(MAGIC + b"\0" * (_ALIGN - len(MAGIC)))
            for name in list(self.fields):
                for key, arr in self._field_arrays(self.fields.pop(name)):
                    index[f"{name}.{key}"] = [arr.dtype.str, f.tell(), int(arr.size)]
                    f.write(arr.tobytes())
                    f.write(b"\0" * (-f.tell() % _ALIGN))
            head = json.dumps({"ndocs": self.ndocs, "arrays": index}).encode("utf-8")
            f.write(head + struct.pack("<Q", len(head)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @staticmethod
    def _field_arrays(runs: _FieldRuns) -> Iterator[tuple[str, np.ndarray]]:
        names = list(runs.vocab)
        order = sorted(range(len(names)), key=names.__getitem__)
        encoded = [_encode(names[i]) for i in order]
        yield "blob", np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
        yield "toff", np.concatenate(([0], np.cumsum([len(e) + 1 for e in encoded]))).astype(np.int64)
        yield "pfx", _prefixes(encoded)
        del encoded
        rank = np.empty(len(names), dtype=np.int32)
        rank[order] = np.arange(len(names), dtype=np.int32)
        terms = rank[np.concatenate(runs.terms)] if runs.terms else np.zeros(0, np.int32)
        runs.terms.clear()
        yield "poff", np.concatenate(([0], np.cumsum(np.bincount(terms, minlength=len(names))))).astype(np.int64)
        by_term = np.argsort(terms, kind="stable")  # documents stay ascending within a term
        del terms
        yield "docs", np.concatenate(runs.docs)[by_term] if runs.docs else np.zeros(0, np.int32)
        runs.docs.clear()
        yield "tf", np.concatenate(runs.tfs)[by_term] if runs.tfs else np.zeros(0, np.uint16)
        runs.tfs.clear()
        yield "len", np.concatenate(runs.lengths) if runs.lengths else np.zeros(0, np.uint32)


class PartError(ValueError):
    """A part file is missing, truncated or not ours."""


class Part:
    """One part file, mapped read-only."""

    def __init__(self, path: str, start: int):
        self.path, self.start = path, start
        with open(path, "rb") as f:
            try:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:
                raise PartError(f"{path} is empty") from None
        m = self._map
        if m[:4] != MAGIC or len(m) < 12:
            raise PartError(f"{path} is not a searchkit postings file")
        (size,) = struct.unpack("<Q", m[-8:])
        try:
            header = json.loads(m[len(m) - 8 - size:len(m) - 8])
            self.ndocs = int(header["ndocs"])
            self._arrays = {}
            for key, (dtype, offset, count) in header["arrays"].items():
                self._arrays[key] = np.frombuffer(m, dtype=np.dtype(dtype), count=count, offset=offset)
        except (ValueError, KeyError, TypeError) as e:
            raise PartError(f"{path} is damaged ({e.__class__.__name__})") from None

    def _find(self, fieldname: str, term: str) -> int:
        """Index of ``term`` in the field's sorted terms, or -1: a NumPy
        search over the terms' 8-byte prefixes, then the few terms sharing
        the prefix compared whole."""
        blob, toff = self._arrays[f"{fieldname}.blob"], self._arrays[f"{fieldname}.toff"]
        pfx = self._arrays[f"{fieldname}.pfx"]
        key = _encode(term)
        k = _prefixes([key])[0]
        for i in range(int(np.searchsorted(pfx, k, "left")), int(np.searchsorted(pfx, k, "right"))):
            here = blob[toff[i]:toff[i + 1] - 1].tobytes()
            if here == key:
                return i
            if here > key:
                break
        return -1

    def get(self, fieldname: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(part-local docnums ascending, term frequencies) of ``term``."""
        i = self._find(fieldname, term)
        if i < 0:
            return _EMPTY
        poff = self._arrays[f"{fieldname}.poff"]
        a, b = int(poff[i]), int(poff[i + 1])
        return self._arrays[f"{fieldname}.docs"][a:b], self._arrays[f"{fieldname}.tf"][a:b].astype(np.float32)

    def lengths(self, fieldname: str) -> np.ndarray:
        return self._arrays[f"{fieldname}.len"]

    def terms(self, fieldname: str, live: np.ndarray | None = None) -> Iterator[tuple[str, int]]:
        """(term, document frequency) in term order; with ``live`` (a mask
        over this part's documents), only live documents count."""
        blob = self._arrays[f"{fieldname}.blob"].tobytes()
        if not blob and self._arrays[f"{fieldname}.toff"].size <= 1:
            return
        poff = self._arrays[f"{fieldname}.poff"]
        if live is None:
            df = np.diff(poff)
        else:
            alive = np.concatenate(([0], np.cumsum(live[self._arrays[f"{fieldname}.docs"]], dtype=np.int64)))
            df = alive[poff[1:]] - alive[poff[:-1]]
        yield from zip(blob.decode("utf-8", "surrogatepass").split("\n"), df.tolist())

    def field_arrays(self, fieldname: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Everything of one field, for merging: terms, each posting's term
        index, docnums, term frequencies, document lengths."""
        terms = [t for t, _ in self.terms(fieldname)]
        df = np.diff(self._arrays[f"{fieldname}.poff"])
        term_of = np.repeat(np.arange(len(terms), dtype=np.int64), df)
        return (terms, term_of, self._arrays[f"{fieldname}.docs"], self._arrays[f"{fieldname}.tf"],
                self._arrays[f"{fieldname}.len"])

    def close(self) -> None:
        self._arrays = {}
        try:
            self._map.close()
        except BufferError:
            pass  # arrays handed out still view the map; it closes when they go


def part_path(directory: str, segment_id: str, start: int) -> str:
    return os.path.join(directory, f"{segment_id}.{start}{SUFFIX}")


def open_parts(directory: str, segment_id: str, ndocs: int) -> list[Part]:
    """The parts of one Whoosh segment, checked to cover its documents."""
    found = []
    for name in os.listdir(directory):
        m = _NAME.match(name)
        if m and m.group("segment") == segment_id:
            found.append((int(m.group("start")), os.path.join(directory, name)))
    parts = [Part(path, start) for start, path in sorted(found)]
    expected = 0
    for p in parts:
        if p.start != expected:
            raise PartError(f"postings of documents {expected}-{p.start - 1} of {segment_id} are missing")
        expected += p.ndocs
    if expected != ndocs:
        raise PartError(f"postings of {segment_id} cover {expected} of its {ndocs} documents")
    return parts


def reader_parts(directory: str, reader) -> list[Part]:
    """The parts of the segment a Whoosh leaf reader reads (none for the
    empty reader of an index without segments)."""
    if not hasattr(reader, "segment"):
        return []
    return open_parts(directory, reader.segment().segment_id(), reader.doc_count_all())
