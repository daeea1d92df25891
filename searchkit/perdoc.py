"""The per-document side of searchkit's codec (:mod:`searchkit.codec`):
stored fields, and the text fields' exact lengths.

W3 keeps stored fields zlibbed per document; here they are pickled as they
are (``RAW_STORED``), in segments that say so, since undoing zlib costs
about 25 us a search result and saves only a third of Chinese text.  The
text fields' lengths come from the part files: the bulk path gives W3's
length columns none.
"""

from __future__ import annotations

import numpy as np
from whoosh import columns
from whoosh.codec.whoosh3 import STORED_COLUMN, W3Codec, W3PerDocReader, W3PerDocWriter
from whoosh.filedb.structfile import StructFile

from .postings import Part, map_file, open_parts
from .schema import TEXT_FIELDS

RAW_STORED = columns.PickleColumn(columns.VarBytesColumn())


def stored_column(segment) -> columns.Column:
    """The column a segment keeps stored fields in: W3's, unless it says
    otherwise (W3's segments, and ours from older versions, say nothing)."""
    return RAW_STORED if getattr(segment, "raw_stored", False) else STORED_COLUMN


class TextPerDocWriter(W3PerDocWriter):
    """W3's per-document writer, storing fields in the segment's column."""

    def _create_column(self, fieldname, column):
        super()._create_column(fieldname, stored_column(self._segment) if fieldname == "_stored" else column)


def hold_stored_fields(reader) -> None:
    """Open every segment's stored-fields column now, while its files are
    there: Whoosh opens it at first use, and an update that merges a
    segment away deletes its files.  FileNotFoundError when one is gone."""
    for leaf, _ in reader.leaf_readers():
        if leaf.doc_count_all():
            try:
                leaf.stored_fields(0)
            except TypeError:  # how W3's own segments say it
                raise FileNotFoundError("a segment's stored fields are missing") from None


def segment_lengths(parts: list[Part], fieldname: str, ndocs: int) -> tuple[np.ndarray, np.ndarray]:
    """Each document's length in a text field, and which documents the
    parts cover."""
    lengths = np.zeros(ndocs, dtype=np.uint32)
    covered = np.zeros(ndocs, dtype=bool)
    for p in parts:
        lengths[p.start:p.start + p.ndocs] = p.lengths(fieldname)
        covered[p.start:p.start + p.ndocs] = True
    return lengths, covered


class MappedFile(StructFile):
    """A memory-mapped file whose reads at a position are slices: no seek
    and read calls, and no shared file position for threads to race on."""

    def __init__(self, mapped, name: str):
        super().__init__(mapped, name)
        self._map = mapped

    def get(self, position: int, length: int) -> bytes:
        return self._map[position:position + length]


class TextPerDocReader(W3PerDocReader):
    """W3's per-document reader, with the text fields' exact lengths from
    the part files (the bulk path gives W3 none)."""

    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._text: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def _get_column_file(self, fieldname):
        if fieldname == "_stored" and getattr(self._segment, "raw_stored", False) and hasattr(self._storage, "folder"):
            name = W3Codec.column_filename(self._segment, fieldname)
            mapped = map_file(self._storage, name)
            return MappedFile(mapped, name), 0, len(mapped)
        return super()._get_column_file(fieldname)

    def stored_fields(self, docnum):
        reader = self._cached_reader("_stored", stored_column(self._segment))
        if reader is None:  # the file is gone (as after a merge deleted it): W3 fails too, by a TypeError
            raise FileNotFoundError(f"the stored fields of segment {self._segment.segment_id()} are missing")
        return reader[docnum] or {}

    def _text_lengths(self, fieldname: str) -> tuple[np.ndarray, np.ndarray] | None:
        if fieldname not in TEXT_FIELDS or not getattr(self._segment, "parts", None):
            return None
        if self._text is None:
            parts = open_parts(self._storage, self._segment)
            try:
                self._text = {f: segment_lengths(parts, f, self._doccount) for f in TEXT_FIELDS}
            finally:
                for p in parts:
                    p.close()
        return self._text[fieldname]

    def doc_field_length(self, docnum, fieldname, default=0):
        ours = self._text_lengths(fieldname)
        if ours is not None and ours[1][docnum]:
            return int(ours[0][docnum])
        return super().doc_field_length(docnum, fieldname, default)

    def doc_field_length_reader(self, fieldname, default=0):
        ours = self._text_lengths(fieldname)
        if ours is None:
            return super().doc_field_length_reader(fieldname, default)
        lengths, covered = ours
        theirs = super().doc_field_length_reader(fieldname, default)
        return lambda docnum: int(lengths[docnum]) if covered[docnum] else theirs(docnum)

    def min_field_length(self, fieldname):
        ours = self._text_lengths(fieldname)
        if ours is None or not ours[1].all() or not ours[0].size:
            return super().min_field_length(fieldname)
        return int(ours[0].min())

    def max_field_length(self, fieldname):
        ours = self._text_lengths(fieldname)
        if ours is None or not ours[1].all() or not ours[0].size:
            return super().max_field_length(fieldname)
        return int(ours[0].max())
