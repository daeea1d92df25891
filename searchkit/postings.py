"""The file format of the text fields' postings, as :mod:`searchkit.codec` writes
and reads it inside Whoosh segments.

Whoosh's own writer spends several microseconds of Python on every posting;
a Chinese document has hundreds of distinct words and character grams.
Here posting lists are counted and sorted with NumPy a batch at a time and
written as flat arrays, which readers map into memory.  A segment's text
postings are one or more *part* files, each covering a run of the
segment's documents; the segment lists them (:class:`codec.TextSegment`).

A part file: ``SKP1`` padded to 8 bytes, the arrays (each 8-byte aligned),
a JSON footer (``ndocs`` and, per array, dtype/offset/count) and the
footer's length as a little-endian u64.  Per field: the sorted terms as
UTF-8 joined by newlines with their byte offsets and 8-byte prefixes (for a
vectorized lookup), the posting offsets of each term, the (part-local)
document numbers and term frequencies of every posting, and each
document's length in tokens.  Per document: whether its body folds
without traditional-to-simplified conversion (``doc.simplified``; absent in
older parts, and false for documents Whoosh's own writer added).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .analysis import SIMPLIFIED, Analyzed

MAGIC = b"SKP1"
_ALIGN = 8
_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.float32))

# One field's postings for a run of documents: the terms, each posting's
# index into them, its document (0-based in the run) and term frequency,
# and each document's length in tokens.
FieldArrays = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def encode(term: str) -> bytes:
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
        self.simplified: list[np.ndarray] = []
        self.ndocs = 0
        self.postings = 0

    def add(self, tokens: Analyzed, ndocs: int) -> None:
        """Add a batch of ``ndocs`` documents analyzed by :func:`analysis.analyze`."""
        arrays = {}
        for name in self.fields:
            t = tokens[name]
            width = max(len(t.terms), 1)
            keys, tf = np.unique(t.docs.astype(np.int64) * width + t.ids, return_counts=True)
            arrays[name] = (t.terms, (keys % width).astype(np.int64), (keys // width).astype(np.int32),
                            tf, np.bincount(t.docs, minlength=ndocs)[:ndocs])
        self.add_arrays(arrays, ndocs, tokens.get(SIMPLIFIED))

    def add_part(self, part: Part, live: np.ndarray) -> None:
        """Add the live documents of ``part`` (``live[i]``: keep its document
        i), renumbered in order, as Whoosh's merge renumbers them."""
        new_of = np.cumsum(live, dtype=np.int64) - 1
        arrays = {}
        for name in self.fields:
            terms, term_of, docs, tf, lengths = part.field_arrays(name)
            keep = live[docs]
            arrays[name] = (terms, term_of[keep], new_of[docs[keep]].astype(np.int32), tf[keep], lengths[live])
        self.add_arrays(arrays, int(live.sum()), part.simplified()[live])

    def add_arrays(self, arrays: dict[str, FieldArrays], ndocs: int, simplified: np.ndarray | None = None) -> None:
        """Add ``ndocs`` documents given as each field's arrays (fields not
        given have no postings in them) and their ``doc.simplified`` flags
        (none: not known)."""
        self.simplified.append(np.zeros(ndocs, bool) if simplified is None else np.asarray(simplified, bool))
        for name, runs in self.fields.items():
            terms, term_of, docs, tf, lengths = arrays.get(name) or ([], np.zeros(0, np.int64), np.zeros(0, np.int32),
                                                                    np.zeros(0, np.uint16), np.zeros(ndocs, np.uint32))
            vocab = runs.vocab
            to_global = np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), np.int64, len(terms))
            runs.terms.append(to_global[term_of].astype(np.int32) if len(terms) else np.zeros(0, np.int32))
            runs.docs.append(np.asarray(docs, dtype=np.int32) + self.ndocs)
            runs.tfs.append(np.minimum(tf, 65535).astype(np.uint16))
            runs.lengths.append(np.asarray(lengths, dtype=np.uint32))
            self.postings += int(len(docs))
        self.ndocs += ndocs

    def write(self, f) -> dict[str, int]:
        """Write the part to the open file ``f``, one field at a time,
        releasing what is written.  Returns each field's total length."""
        index: dict[str, list] = {}
        totals: dict[str, int] = {}
        at = 0

        def put(data: bytes) -> None:
            nonlocal at
            f.write(data)
            at += len(data)
        put(MAGIC + b"\0" * (_ALIGN - len(MAGIC)))
        for name in list(self.fields):
            for key, arr in self._field_arrays(self.fields.pop(name)):
                index[f"{name}.{key}"] = [arr.dtype.str, at, int(arr.size)]
                if key == "len":
                    totals[name] = int(arr.sum())
                put(arr.tobytes())
                put(b"\0" * (-at % _ALIGN))
        flags = np.concatenate(self.simplified) if self.simplified else np.zeros(0, bool)
        index["doc.simplified"] = [flags.dtype.str, at, int(flags.size)]
        put(flags.tobytes())
        put(b"\0" * (-at % _ALIGN))
        head = json.dumps({"ndocs": self.ndocs, "arrays": index}).encode("utf-8")
        put(head + struct.pack("<Q", len(head)))
        return totals

    @staticmethod
    def _field_arrays(runs: _FieldRuns) -> Iterator[tuple[str, np.ndarray]]:
        names = list(runs.vocab)
        term_of = np.concatenate(runs.terms) if runs.terms else np.zeros(0, np.int32)
        runs.terms.clear()
        # Only terms with postings: a merge drops deleted documents, and with
        # them some terms' every posting.
        used = np.flatnonzero(np.bincount(term_of, minlength=len(names))).tolist()
        order = sorted(used, key=names.__getitem__)
        encoded = [encode(names[i]) for i in order]
        yield "blob", np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
        yield "toff", np.concatenate(([0], np.cumsum([len(e) + 1 for e in encoded]))).astype(np.int64)
        yield "pfx", _prefixes(encoded)
        del encoded
        rank = np.empty(len(names), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        terms = rank[term_of]
        del term_of
        yield "poff", np.concatenate(([0], np.cumsum(np.bincount(terms, minlength=len(order))))).astype(np.int64)
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
    """One part file over a buffer (a read-only memory map, or bytes):
    every array is a zero-copy view of it.  ``start`` is the segment
    document number of the part's first document."""

    def __init__(self, buffer, start: int, name: str):
        self.start, self.name = start, name
        m = self._buffer = buffer
        if len(m) < 12 or m[:4] != MAGIC:
            raise PartError(f"{name} is not a searchkit postings file")
        (size,) = struct.unpack("<Q", m[-8:])
        try:
            header = json.loads(bytes(m[len(m) - 8 - size:len(m) - 8]))
            self.ndocs = int(header["ndocs"])
            self._arrays = {}
            for key, (dtype, offset, count) in header["arrays"].items():
                self._arrays[key] = np.frombuffer(m, dtype=np.dtype(dtype), count=count, offset=offset)
        except (ValueError, KeyError, TypeError) as e:
            raise PartError(f"{name} is damaged ({e.__class__.__name__})") from None

    def find(self, fieldname: str, key: bytes) -> int:
        """Index of the encoded term ``key`` in the field's sorted terms, or
        -1: a NumPy search over the terms' 8-byte prefixes, then the few
        terms sharing the prefix compared whole."""
        blob, toff = self._arrays[f"{fieldname}.blob"], self._arrays[f"{fieldname}.toff"]
        pfx = self._arrays[f"{fieldname}.pfx"]
        k = _prefixes([key])[0]
        for i in range(int(np.searchsorted(pfx, k, "left")), int(np.searchsorted(pfx, k, "right"))):
            here = blob[toff[i]:toff[i + 1] - 1].tobytes()
            if here == key:
                return i
            if here > key:
                break
        return -1

    def get(self, fieldname: str, key: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(part-local docnums ascending, term frequencies) of an encoded term."""
        i = self.find(fieldname, key)
        if i < 0:
            return _EMPTY
        poff = self._arrays[f"{fieldname}.poff"]
        a, b = int(poff[i]), int(poff[i + 1])
        return self._arrays[f"{fieldname}.docs"][a:b], self._arrays[f"{fieldname}.tf"][a:b].astype(np.float32)

    def lengths(self, fieldname: str) -> np.ndarray:
        return self._arrays[f"{fieldname}.len"]

    def simplified(self) -> np.ndarray:
        """Per document: does its body fold without traditional-to-
        simplified conversion (false where not known)?"""
        flags = self._arrays.get("doc.simplified")
        return flags if flags is not None and flags.size == self.ndocs else np.zeros(self.ndocs, bool)

    def encoded_terms(self, fieldname: str) -> list[bytes]:
        blob = self._arrays[f"{fieldname}.blob"].tobytes()
        if not blob and self._arrays[f"{fieldname}.toff"].size <= 1:
            return []
        return blob.split(b"\n")

    def terms(self, fieldname: str, live: np.ndarray | None = None) -> Iterator[tuple[str, int]]:
        """(term, document frequency) in term order; with ``live`` (a mask
        over this part's documents), only live documents count."""
        encoded = self.encoded_terms(fieldname)
        if not encoded:
            return
        poff = self._arrays[f"{fieldname}.poff"]
        if live is None:
            df = np.diff(poff)
        else:
            alive = np.concatenate(([0], np.cumsum(live[self._arrays[f"{fieldname}.docs"]], dtype=np.int64)))
            df = alive[poff[1:]] - alive[poff[:-1]]
        yield from zip(b"\n".join(encoded).decode("utf-8", "surrogatepass").split("\n"), df.tolist())

    def field_arrays(self, fieldname: str) -> FieldArrays:
        """Everything of one field, for merging."""
        terms = [t for t, _ in self.terms(fieldname)]
        df = np.diff(self._arrays[f"{fieldname}.poff"])
        term_of = np.repeat(np.arange(len(terms), dtype=np.int64), df)
        return (terms, term_of, self._arrays[f"{fieldname}.docs"], self._arrays[f"{fieldname}.tf"],
                self._arrays[f"{fieldname}.len"])

    def close(self) -> None:
        self._arrays = {}
        close = getattr(self._buffer, "close", None)
        if close:
            try:
                close()
            except BufferError:
                pass  # arrays handed out still view the map; it closes when they go


def map_file(storage, name: str):
    """A file's bytes: mapped read-only where the storage is a folder."""
    folder = getattr(storage, "folder", None)
    if folder is None:
        with storage.open_file(name) as f:
            return f.read()
    with open(os.path.join(folder, name), "rb") as f:
        try:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            raise PartError(f"{name} is empty") from None


def open_parts(storage, segment) -> list[Part]:
    """The part files of a segment, in document order, checked against
    what the segment says they hold."""
    parts = []
    try:
        for n, (start, ndocs) in enumerate(getattr(segment, "parts", ())):
            part = Part(map_file(storage, segment.part_name(n)), start, segment.part_name(n))
            parts.append(part)
            if part.ndocs != ndocs:
                raise PartError(f"{part.name} holds {part.ndocs} documents, not {ndocs}")
    except BaseException:
        for part in parts:
            part.close()
        raise
    return sorted(parts, key=lambda p: p.start)
