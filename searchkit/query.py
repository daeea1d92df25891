"""The query language: parsing a user's string into clauses.

    二月闹 哭闹            both optional; documents with more of them rank first
    医保 AND 北京          both required (also: +北京)
    医保 NOT 北京          exclude (also: -北京)
    医保 OR 社保           either (the default, spelled out)
    "异地就医"             exact phrase: required, matched character by character
    title:医保卡           only in titles (fields: title, body; any other
                           word with a colon, like a URL, is a word)
    (医保 OR 社保) AND 北京 groups

Operators are upper case words; in lower case they are ordinary words.
Anything the parser cannot read raises :class:`QuerySyntaxError` with a
one-line message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as _field

from .errors import QuerySyntaxError

SHOULD, MUST, NOT = "should", "must", "not"
FIELDS = ("title", "body")
MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 64

_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<phrase>"[^"]*")|(?P<quote>")|(?P<word>[^\s()"]+))')
_FIELD = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)
_QUOTES = str.maketrans({"“": '"', "”": '"', "＂": '"', "（": "(", "）": ")"})


@dataclass
class Clause:
    """One unit of a query: words, a phrase, or a parenthesised group."""

    occur: str = SHOULD
    text: str = ""
    phrase: bool = False
    field: str | None = None
    children: list[Clause] = _field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return bool(self.children)


def _tokens(query: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup
        if kind == "quote":
            raise QuerySyntaxError('unbalanced quote: a phrase needs a closing "')
        out.append((kind, m.group(kind)))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.i = 0

    def parse(self, depth: int = 0) -> list[Clause]:
        clauses: list[Clause] = []
        pending_op: str | None = None  # AND / OR seen after the last clause
        prefix: str | None = None  # NOT / - / +
        while self.i < len(self.tokens):
            kind, value = self.tokens[self.i]
            self.i += 1
            if kind == "rp":
                if depth == 0:
                    raise QuerySyntaxError("unbalanced parenthesis: ')' without '('")
                break
            if kind == "word" and value in ("AND", "OR"):
                if not clauses or pending_op or prefix:
                    raise QuerySyntaxError(f"'{value}' needs a word on each side")
                pending_op = value
                continue
            if kind == "word" and value == "NOT":
                if prefix:
                    raise QuerySyntaxError("'NOT' needs a word after it")
                prefix = NOT
                continue
            clause = self._clause(kind, value, depth)
            if clause is None:
                continue
            if prefix:
                clause.occur = prefix
                prefix = None
            if pending_op == "AND":
                for c in (clauses[-1], clause):
                    if c.occur == SHOULD:
                        c.occur = MUST
            pending_op = None
            clauses.append(clause)
        else:
            if depth > 0:
                raise QuerySyntaxError("unbalanced parenthesis: '(' without ')'")
        if pending_op:
            raise QuerySyntaxError(f"'{pending_op}' needs a word on each side")
        if prefix:
            raise QuerySyntaxError("'NOT' or '-' needs a word after it")
        return clauses

    def _clause(self, kind: str, value: str, depth: int) -> Clause | None:
        if kind == "lp":
            children = self.parse(depth + 1)
            return Clause(children=children) if children else None
        if kind == "phrase":
            text = value[1:-1].strip()
            return Clause(MUST, text, phrase=True) if text else None
        occur = SHOULD
        if value[0] in "+-" and len(value) > 1:
            occur = MUST if value[0] == "+" else NOT
            value = value[1:]
        elif value in ("+", "-"):
            raise QuerySyntaxError(f"'{value}' needs a word right after it (like -{'北京'})")
        fm = _FIELD.match(value)
        fieldname = None
        # Only a known field name makes a field: https://… and 10:30 are words.
        if fm and fm.group(1).lower() in FIELDS:
            fieldname, value = fm.group(1).lower(), fm.group(2)
            if not value and self.i < len(self.tokens) and self.tokens[self.i][0] == "phrase":
                value = self.tokens[self.i][1][1:-1].strip()
                self.i += 1
                return Clause(MUST if occur == SHOULD else occur, value, phrase=True, field=fieldname) if value else None
            if not value:
                raise QuerySyntaxError(f"'{fm.group(1)}:' needs a word after it")
        return Clause(occur, value, field=fieldname)


def parse_query(query: str) -> list[Clause]:
    """Clauses of ``query``; raises QuerySyntaxError if it cannot be read."""
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query too long ({len(query)} characters; at most {MAX_QUERY_CHARS})")
    query = "".join(ch if ch.isprintable() else " " for ch in query.translate(_QUOTES))
    clauses = _Parser(_tokens(query)).parse()
    if not clauses:
        raise QuerySyntaxError("empty query")
    if _count(clauses) > MAX_CLAUSES:
        raise QuerySyntaxError(f"too many words or clauses (at most {MAX_CLAUSES})")
    if all(c.occur == NOT for c in clauses):
        raise QuerySyntaxError("a query needs at least one word that is not excluded")
    return clauses


def _count(clauses: list[Clause]) -> int:
    return sum(_count(c.children) if c.is_group else 1 for c in clauses)
