"""The index schema and its version.

Whoosh holds what is stored per document and the id-like fields used for
lookups, filters and facets; the text fields are analyzed into our own
posting files (:mod:`searchkit.postings`).  Words and characters are
separate text fields so a query can weigh a whole-word match above a
character match.
"""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, STORED, Schema

# Bump when the schema, the analyzers or the on-disk layout change in a way an
# old index cannot serve: the reader then asks for `searchkit index --rebuild`.
FORMAT_VERSION = 3

WORD_FIELDS = ("title", "headings", "body")
CHAR_FIELDS = ("title_chars", "chars")
TEXT_FIELDS = WORD_FIELDS + CHAR_FIELDS


def make_schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        kind=ID(stored=True),
        title=STORED(),
        body=STORED(),
        date=ID(stored=True),
        category=ID(stored=True),
        city=KEYWORD(stored=True, scorable=False),  # places named in the title, for facets
        sources=STORED(),
        url=STORED(),
        disclaimer=STORED(),
    )
