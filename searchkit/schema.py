"""The index schema and its version.

Every field is a Whoosh field: the text fields analyze with our jieba word
and character tokenizers (:mod:`searchkit.analysis`) and their postings
live in our codec's part files (:mod:`searchkit.codec`); the id-like
fields used for lookups, filters and facets, and everything stored, are
Whoosh's W3 format.  Words and characters are separate text fields so a
query can weigh a whole-word match above a character match.
"""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from .analysis import CharTokenizer, WordTokenizer

# Bump when the schema, the analyzers or the on-disk layout change in a way an
# old index cannot serve: the reader then asks for `searchkit index --rebuild`.
FORMAT_VERSION = 4

WORD_FIELDS = ("title", "headings", "body")
CHAR_FIELDS = ("title_chars", "chars")
TEXT_FIELDS = WORD_FIELDS + CHAR_FIELDS


class Preindexed(str):
    """Text whose postings the bulk builder hands the codec as arrays
    (:meth:`codec.TextFieldWriter.add_batch`): Whoosh stores it but does
    not analyze it again."""


class Text(TEXT):
    """A text field without positions (phrases are matched on the stored
    text) that skips analysis of :class:`Preindexed` values."""

    def __init__(self, analyzer, stored: bool = False):
        super().__init__(analyzer=analyzer, phrase=False, stored=stored)

    def index(self, value, **kwargs):
        if isinstance(value, Preindexed):
            return iter(())
        return super().index(value, **kwargs)


def make_schema() -> Schema:
    words, chars = WordTokenizer(), CharTokenizer()
    return Schema(
        id=ID(stored=True, unique=True),
        kind=ID(stored=True),
        title=Text(words, stored=True),
        headings=Text(words),
        body=Text(words, stored=True),
        title_chars=Text(chars),
        chars=Text(chars),
        date=ID(stored=True),
        category=ID(stored=True),
        city=KEYWORD(stored=True, scorable=False),  # places named in the title, for facets
        sources=STORED(),
        url=STORED(),
        disclaimer=STORED(),
    )
