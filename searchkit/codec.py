"""searchkit's Whoosh codec: the text fields' postings as memory-mapped arrays.

Whoosh's W3 codec keeps everything per document (stored fields, id-like
fields, columns, deletions; :mod:`searchkit.perdoc` stores fields
unzipped); the text fields (:data:`schema.TEXT_FIELDS`) are written and
read here, in the part files of :mod:`searchkit.postings`.
Each segment records its codec in Whoosh's table of segments, so
``whoosh.index.open_dir`` reads an index with this codec, and Whoosh's
searcher, highlighter, lexicon, writer and merges work on these postings
through the ordinary :class:`whoosh.codec.base.TermsReader` interface.

Two ways in: Whoosh's per-posting path (``add_document``, merges) and
:meth:`TextFieldWriter.add_batch`, which the bulk builder calls with a
batch's token arrays.  searchkit's ranking reads the same arrays through
:attr:`TextTermsReader.parts`.  Part files are created through the segment
(``MAIN_<segment>.<n>.skp``), so Whoosh lists, merges and deletes them with
the segment; segments are never assembled into a compound file, which would
copy the parts and keep them from being mapped in place.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import chain

import numpy as np
from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Codec, W3Segment
from whoosh.reading import TermInfo, TermNotFound

from .matching import ArrayMatcher
from .perdoc import TextPerDocReader, TextPerDocWriter, segment_lengths
from .postings import Accumulator, Part, open_parts
from .schema import TEXT_FIELDS

PART_EXT = ".skp"
FLUSH_POSTINGS = 6_000_000  # postings held (about 10 bytes each) before a part file is written
_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.float32))


class TextSegment(W3Segment):
    """A W3 segment that also lists its text postings' part files."""

    raw_stored = False  # what a segment pickled by an older version, without the attribute, has

    def __init__(self, codec, indexname, doccount=0, segid=None, deleted=None):
        super().__init__(codec, indexname, doccount, segid, deleted)
        self.parts: list[tuple[int, int]] = []  # (first document, documents) of part file n
        self.raw_stored = True  # stored fields in RAW_STORED, not W3's column

    def should_assemble(self) -> bool:
        return False

    def part_name(self, n: int) -> str:
        return self.make_filename(f".{n}{PART_EXT}")


class SearchkitCodec(W3Codec):
    """W3, with the text fields' postings in part files."""

    def new_segment(self, storage, indexname):
        return TextSegment(self, indexname)

    def field_writer(self, storage, segment):
        return TextFieldWriter(super().field_writer(storage, segment), storage, segment)

    def terms_reader(self, storage, segment):
        return TextTermsReader(super().terms_reader(storage, segment), segment, open_parts(storage, segment))

    def per_document_writer(self, storage, segment):
        return TextPerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):
        return TextPerDocReader(storage, segment)


class TextFieldWriter(base.FieldWriter):
    """Routes the text fields' postings to part files, the rest to W3."""

    def __init__(self, child, storage, segment: TextSegment):
        self._child, self._storage, self._segment = child, storage, segment
        self._acc, self._start = Accumulator(TEXT_FIELDS), 0
        self._totals = dict.fromkeys(TEXT_FIELDS, 0)
        # Whoosh's path: field -> term -> (docnums, weights)
        self._posted: dict[str, dict[bytes, tuple[list[int], list[float]]]] = {}
        self._field: dict | None = None
        self.is_closed = False

    # -- the bulk path: whole batches as arrays

    def add_batch(self, docnum: int, tokens, ndocs: int) -> None:
        """Postings of ``ndocs`` documents from ``docnum`` on, as
        :func:`analysis.analyze` returns them."""
        self._at(docnum)
        self._acc.add(tokens, ndocs)
        self._spill()

    def add_part(self, docnum: int, part: Part, live: np.ndarray) -> None:
        """The live documents of another segment's part, from ``docnum`` on
        (a merge without decoding a posting)."""
        self._at(docnum)
        self._acc.add_part(part, live)
        self._spill()

    def _at(self, docnum: int) -> None:
        if self._acc.ndocs and self._start + self._acc.ndocs != docnum:
            self._flush()
        if not self._acc.ndocs:
            self._start = docnum

    def _spill(self) -> None:
        if self._acc.postings >= FLUSH_POSTINGS:
            self._flush()

    def _flush(self) -> None:
        if not self._acc.ndocs:
            return
        seg = self._segment
        with seg.create_file(self._storage, f".{len(seg.parts)}{PART_EXT}") as f:
            totals = self._acc.write(f)
        seg.parts.append((self._start, self._acc.ndocs))
        for name, total in totals.items():
            self._totals[name] += total
        self._start += self._acc.ndocs
        self._acc = Accumulator(TEXT_FIELDS)

    # -- Whoosh's path: one posting at a time

    def start_field(self, fieldname, fieldobj):
        if fieldname in TEXT_FIELDS:
            self._field = self._posted.setdefault(fieldname, {})
        else:
            self._field = None
            self._child.start_field(fieldname, fieldobj)

    def start_term(self, text):
        if self._field is None:
            self._child.start_term(text)
        else:
            self._term = self._field.setdefault(text, ([], []))

    def add(self, docnum, weight, vbytes, length):
        if self._field is None:
            self._child.add(docnum, weight, vbytes, length)
        else:
            self._term[0].append(docnum)
            self._term[1].append(weight)

    def finish_term(self):
        if self._field is None:
            self._child.finish_term()

    def finish_field(self):
        if self._field is None:
            self._child.finish_field()
        self._field = None

    def add_spell_word(self, fieldname, text):
        self._child.add_spell_word(fieldname, text)

    def _flush_posted(self) -> None:
        """Whoosh's postings as one part over the documents they span.  A
        document's length is the sum of its term frequencies (the length
        Whoosh passes is W3's one-byte approximation)."""
        docs = {name: np.fromiter(chain.from_iterable(d for d, _ in terms.values()), np.int64)
                for name, terms in self._posted.items()}
        if not any(d.size for d in docs.values()):
            return
        self._flush()
        lo = min(int(d.min()) for d in docs.values() if d.size)
        hi = max(int(d.max()) for d in docs.values() if d.size) + 1
        if any(s < hi and lo < s + n for s, n in self._segment.parts):
            raise ValueError("documents were given to the codec both whole and by posting")
        arrays = {}
        for name, terms in self._posted.items():
            tf = np.rint(np.fromiter(chain.from_iterable(w for _, w in terms.values()), np.float64))
            arrays[name] = ([t.decode("utf-8", "surrogatepass") for t in terms],
                            np.repeat(np.arange(len(terms), dtype=np.int64), [len(d) for d, _ in terms.values()]),
                            docs[name] - lo, tf,
                            np.bincount(docs[name] - lo, weights=tf, minlength=hi - lo).astype(np.uint32))
        self._start = lo
        self._acc.add_arrays(arrays, hi - lo)
        self._posted = {}
        self._flush()

    def discard(self) -> None:
        """Drop the postings not yet written: the writer is being cancelled,
        and an interrupted batch may be half added."""
        self._acc, self._posted = Accumulator(TEXT_FIELDS), {}

    def close(self):
        self._flush()
        self._flush_posted()
        self._child.close()
        if self._segment.parts:
            lengths = getattr(self._segment, "_fieldlengths", None)
            if lengths is not None:
                lengths.update(self._totals)
        self.is_closed = True


class TextTermsReader(base.TermsReader):
    """The text fields' terms from part files, the rest from W3."""

    def __init__(self, child, segment, parts: list[Part]):
        self._child, self._segment = child, segment
        self.parts = parts
        self._sorted: dict[str, list[bytes]] = {}
        self._lengths: dict[str, np.ndarray] = {}

    def postings(self, fieldname: str, text: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(segment docnums ascending, term frequencies) of a text field's term."""
        found = [(p.get(fieldname, text), p.start) for p in self.parts]
        found = [(d.astype(np.int64) + start, tf) for (d, tf), start in found if d.size]
        if not found:
            return _EMPTY
        if len(found) == 1:
            return found[0]
        return np.concatenate([d for d, _ in found]), np.concatenate([tf for _, tf in found])

    def _field_lengths(self, fieldname: str) -> np.ndarray:
        if fieldname not in self._lengths:
            self._lengths[fieldname] = segment_lengths(self.parts, fieldname, self._segment.doc_count_all())[0]
        return self._lengths[fieldname]

    def _text_terms(self, fieldname: str) -> list[bytes]:
        if fieldname not in self._sorted:
            terms: set[bytes] = set()
            for p in self.parts:
                terms.update(p.encoded_terms(fieldname))
            self._sorted[fieldname] = sorted(terms)
        return self._sorted[fieldname]

    def _fields(self) -> list[str]:
        ours = [f for f in TEXT_FIELDS if self._text_terms(f)]
        return sorted(set(self._child.indexed_field_names()).union(ours))

    def _field_terms(self, fieldname: str, prefix: bytes):
        if fieldname in TEXT_FIELDS:
            terms = self._text_terms(fieldname)
            yield from terms[bisect_left(terms, prefix):]
            return
        for f, t in self._child.terms_from(fieldname, prefix):
            if f != fieldname:
                return
            yield t

    def __contains__(self, term):
        fieldname, text = term
        if fieldname in TEXT_FIELDS:
            return any(p.find(fieldname, text) >= 0 for p in self.parts)
        return term in self._child

    def terms(self):
        return self.terms_from("", b"")

    def terms_from(self, fieldname, prefix):
        for f in self._fields():
            if f >= fieldname:
                for t in self._field_terms(f, prefix if f == fieldname else b""):
                    yield f, t

    def items(self):
        return self.items_from("", b"")

    def items_from(self, fieldname, prefix):
        for f, t in self.terms_from(fieldname, prefix):
            yield (f, t), self.term_info(f, t)

    def term_info(self, fieldname, text):
        if fieldname not in TEXT_FIELDS:
            return self._child.term_info(fieldname, text)
        docs, tf = self.postings(fieldname, text)
        if not docs.size:
            raise TermNotFound((fieldname, text))
        lengths = self._field_lengths(fieldname)[docs]
        return TermInfo(weight=float(tf.sum()), df=int(docs.size), minlength=int(lengths.min()),
                        maxlength=int(lengths.max()), maxweight=float(tf.max()), minid=int(docs[0]),
                        maxid=int(docs[-1]))

    def frequency(self, fieldname, text):
        if fieldname not in TEXT_FIELDS:
            return self._child.frequency(fieldname, text)
        return float(self.postings(fieldname, text)[1].sum())

    def doc_frequency(self, fieldname, text):
        if fieldname not in TEXT_FIELDS:
            return self._child.doc_frequency(fieldname, text)
        return int(self.postings(fieldname, text)[0].size)

    def matcher(self, fieldname, text, format_, scorer=None):
        if fieldname not in TEXT_FIELDS:
            return self._child.matcher(fieldname, text, format_, scorer=scorer)
        docs, tf = self.postings(fieldname, text)
        if not docs.size:
            raise TermNotFound((fieldname, text))
        return ArrayMatcher(docs, tf, format_, scorer, (fieldname, text), self.term_info(fieldname, text))

    def indexed_field_names(self):
        return self._fields()

    def close(self):
        self._child.close()
        for p in self.parts:
            p.close()


def cancel(writer) -> None:
    """``writer.cancel()``, writing none of the codec's pending postings."""
    if isinstance(writer.fieldwriter, TextFieldWriter):
        writer.fieldwriter.discard()
    writer.cancel()


class _OtherFields:
    """A segment reader whose postings are only the W3 fields': the text
    fields' are copied as arrays by :func:`merge_segment`."""

    def __init__(self, reader):
        self._reader = reader

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def iter_postings(self):
        r = self._reader
        for fieldname in r.indexed_field_names():
            if fieldname in TEXT_FIELDS:
                continue
            for text in r.lexicon(fieldname):
                m = r.postings(fieldname, text)
                while m.is_active():
                    yield fieldname, text, m.id(), m.weight(), m.value()
                    m.next()


def merge_segment(writer, segment) -> None:
    """Whoosh's ``writer.add_reader`` for one segment, with the text fields'
    postings copied as arrays rather than one posting at a time (segments
    of another codec take Whoosh's way)."""
    from whoosh.reading import SegmentReader

    reader = SegmentReader(writer.storage, writer.schema, segment)
    try:
        terms = reader._terms
        if not isinstance(terms, TextTermsReader) or not isinstance(writer.fieldwriter, TextFieldWriter):
            writer.add_reader(reader)
            return
        live = np.ones(segment.doc_count_all(), dtype=bool)
        live[np.fromiter(segment.deleted_docs(), dtype=np.int64)] = False
        before = np.concatenate(([0], np.cumsum(live, dtype=np.int64)))
        for part in terms.parts:
            writer.fieldwriter.add_part(writer.docnum + int(before[part.start]), part,
                                        live[part.start:part.start + part.ndocs])
        writer.add_reader(_OtherFields(reader))
    finally:
        reader.close()
