"""The index schema and its version.

Words and characters are separate fields so a query can weigh a whole-word
match above a character match; only the character fields keep positions
(phrases are matched there), which keeps the word fields small.
"""

from __future__ import annotations

from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from .analysis import CharAnalyzer, WordAnalyzer

# Bump when the schema, the analyzers or the on-disk layout change in a way an
# old index cannot serve: the reader then asks for `searchkit index --rebuild`.
FORMAT_VERSION = 2

WORD_FIELDS = ("title", "headings", "body")
CHAR_FIELDS = ("title_chars", "chars")


def make_schema() -> Schema:
    words, chars = WordAnalyzer(), CharAnalyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        kind=ID(stored=True),
        title=TEXT(analyzer=words, stored=True, phrase=False),
        headings=TEXT(analyzer=words, phrase=False),
        body=TEXT(analyzer=words, stored=True, phrase=False),
        title_chars=TEXT(analyzer=chars, phrase=True),
        chars=TEXT(analyzer=chars, phrase=True),
        date=ID(stored=True),
        category=ID(stored=True),
        city=KEYWORD(stored=True, scorable=False),  # places named in the title, for facets
        sources=STORED(),
        url=STORED(),
        disclaimer=STORED(),
    )
