"""Source files: finding them, decoding them, hashing them, and turning each
into records (pages via :mod:`searchkit.pages`, JSONL line by line).

Problems with one file or one line become :class:`Warning_` entries (file,
line, reason) instead of exceptions, so one bad file never stops a build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Iterable

from .errors import UsageError
from .pages import ARTICLE, CARD, PageError, Record, parse_page

PAGE_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
# A real health page is tens of kilobytes; anything this big is a scraper
# accident that would hold up a build for minutes.
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_TEXT_CHARS = 4 * 1024 * 1024
# A UTF-8 file is read as UTF-8 (bad sequences replaced) while it has at
# least this many good non-ASCII characters per bad sequence; a GBK file read
# as UTF-8 has more bad sequences than good characters.
UTF8_GOOD_PER_BAD = 20
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


class DecodeError(ValueError):
    pass


@dataclass
class Warning_:
    source: str
    line: int | None
    reason: str
    record: str | None = None  # the id of a record skipped for its id (:func:`merge_records`)

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"


@dataclass
class SourceFile:
    """What one file contributed: its content hash and records."""

    path: str
    digest: str
    records: list[Record] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    stat: tuple[int, int] | None = None  # (size, mtime_ns) taken before reading


def decode(data: bytes) -> tuple[str, int]:
    """The text and how many invalid UTF-8 sequences were replaced (U+FFFD).

    UTF-8 (with or without BOM) first; a UTF-8 file with a few stray bytes
    stays UTF-8, since GB18030 would read any bytes at all as garbage; then
    GB18030 (covers GBK/GB2312).  Binary data (NUL bytes) is refused rather
    than guessed at.
    """
    if b"\x00" in data:
        raise DecodeError("binary file (NUL bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":
            # A UTF-8 file cut off mid-character: keep what is whole rather
            # than misread the whole file as GB18030.
            return data[:e.start].decode("utf-8"), 0
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode("utf-8"))
    good = len(text) - len(text.encode("ascii", "ignore")) - text.count("\ufffd")
    if good >= bad * UTF8_GOOD_PER_BAD:
        return text, bad
    try:
        return data.decode("gb18030"), 0
    except UnicodeDecodeError:
        raise DecodeError("unknown encoding (neither UTF-8 nor GB18030)") from None


def discover(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> tuple[dict[str, str], list[Warning_]]:
    """Page and JSONL files under ``paths``, sorted, each once: absolute
    path (so runs from other directories agree) -> its name relative to the
    source it was found under (a file named directly: its own name), which a
    page's id comes from.

    A string is one source, not a list of characters.  A source that does
    not exist raises UsageError before anything is read: a typo must not
    empty the index.  Directory symlinks are followed, but a directory
    already visited (a symlink loop) is not entered again.
    """
    paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(missing)} (nothing was indexed)")
    found: dict[str, str] = {}
    warnings: list[Warning_] = []
    suffixes = PAGE_SUFFIXES + JSONL_SUFFIXES
    for p in paths:
        if os.path.isfile(p):
            found.setdefault(os.path.abspath(p), os.path.basename(p))
            continue
        if not os.path.isdir(p):
            warnings.append(Warning_(p, None, "skipped: not a file or directory"))
            continue
        seen_dirs: set[str] = set()
        for root, dirs, files in os.walk(p, followlinks=True):
            real = os.path.realpath(root)
            if real in seen_dirs:
                dirs[:] = []
                warnings.append(Warning_(root, None, "directory visited already (symlink loop), skipped"))
                continue
            seen_dirs.add(real)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in files:
                if name.endswith(suffixes) and not name.startswith("."):
                    path = os.path.join(root, name)
                    found.setdefault(os.path.abspath(path), os.path.relpath(path, p))
    return dict(sorted(found.items())), warnings


def page_id(name: str) -> str:
    """A page's id: its name relative to its source without ``.txt``, with
    ``/`` between folders (``a/page``); a page at the top of a source keeps
    its bare file name (``000_162322ff5d1d489a``)."""
    stem = name[:-len(".txt")] if name.endswith(".txt") else name
    return stem.replace(os.sep, "/")


def digest_of(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def read_bytes(path: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_PAGE_BYTES and not path.endswith(JSONL_SUFFIXES):
        raise DecodeError(f"page too large ({size / 2**20:.0f} MB; the limit is {MAX_PAGE_BYTES // 2**20} MB)")
    with open(path, "rb") as f:
        return f.read()


def _jsonl_record(obj: object) -> Record:
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    doc_id, text = obj.get("id"), obj.get("text")
    if doc_id is None or isinstance(doc_id, (dict, list, bool)) or str(doc_id).strip() == "":
        raise ValueError("missing or invalid 'id'")
    if not isinstance(text, str):
        raise ValueError("missing 'text' or not a string")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"'text' too large ({len(text)} characters; the limit is {MAX_TEXT_CHARS})")
    extra = {}
    for key in ("title", "date", "category", "url"):
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{key}' is not a string")
        extra[key] = value or None
    date = extra["date"]
    if date is not None and not _is_date(date):
        raise ValueError(f"'date' is not YYYY-MM-DD: {date!r}")
    return Record(id=str(doc_id).strip(), kind=ARTICLE, title=extra["title"] or "", body=text,
                  date=date, category=extra["category"], url=extra["url"])


def _is_date(value: str) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(value[:10])
    except ValueError:
        return False
    return len(value) == 10


def _replace_surrogates(obj: dict) -> int:
    """Replace lone surrogates (JSON's ``"\\ud800"`` decodes to one, and no
    encoder, OpenCC's included, accepts it) in the string values of
    ``obj`` with U+FFFD; how many there were."""
    n = 0
    for key, value in obj.items():
        if isinstance(value, str):
            obj[key], k = _SURROGATE.subn("\ufffd", value)
            n += k
    return n


def parse_jsonl(text: str, source: str) -> tuple[list[Record], list[Warning_]]:
    records, warnings = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            # Text decoded from bytes holds no surrogates: only \uXXXX escapes can.
            fixed = _replace_surrogates(obj) if isinstance(obj, dict) and _ESCAPED_SURROGATE.search(line) else 0
            rec = _jsonl_record(obj)
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            warnings.append(Warning_(source, n, f"skipped line: {str(e).splitlines()[0]}"))
            continue
        if fixed:
            warnings.append(Warning_(source, n, f"replaced {fixed} lone surrogate(s) (\\ud800-\\udfff) with U+FFFD"))
        rec.sources, rec.line = [source], n
        records.append(rec)
    return records, warnings


def stat_key(path: str) -> tuple[int, int] | None:
    """Size and modification time: when both are unchanged, so is the file
    (taken before reading, so a write racing the read is seen next time)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def load(path: str, name: str | None = None) -> SourceFile:
    """Read, decode and parse one file; failures become warnings.  ``name``
    (from :func:`discover`) gives a page its id; by default, its file name."""
    stat = stat_key(path)
    try:
        data = read_bytes(path)
    except (OSError, DecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return SourceFile(path, "", warnings=[Warning_(path, None, f"skipped: {reason}")])
    sf = SourceFile(path, digest_of(data), stat=stat)
    try:
        text, replaced = decode(data)
    except DecodeError as e:
        sf.warnings.append(Warning_(path, None, f"skipped: {e}"))
        return sf
    if replaced:
        line = text.count("\n", 0, text.index("\ufffd")) + 1
        sf.warnings.append(Warning_(path, line, f"read as UTF-8 with {replaced} invalid byte sequence(s) "
                                                "replaced by U+FFFD (the first on this line)"))
    if not text.strip():
        sf.warnings.append(Warning_(path, None, "skipped: empty file"))
    elif path.endswith(JSONL_SUFFIXES):
        sf.records, bad_lines = parse_jsonl(text, path)
        sf.warnings += bad_lines
    else:
        try:
            sf.records = parse_page(text, path, page_id(name or os.path.basename(path)))
        except PageError as e:
            sf.warnings.append(Warning_(path, None, f"skipped: {e}"))
    return sf


def merge_records(records: list[Record]) -> tuple[list[Record], list[Warning_]]:
    """One record per id, and the ids used twice.

    A card on several pages is one record listing every page.  An article id
    used again (a JSONL id repeated in one or several files, two pages named
    alike in two sources) is kept from the occurrence first in (file, line)
    order, whatever order the files were read in, so a rebuild and an update
    keep the same one; each other occurrence is reported and skipped.
    """
    merged: dict[str, Record] = {}
    warnings: list[Warning_] = []
    for r in sorted(records, key=lambda r: (r.sources[0] if r.sources else "", r.line or 0)):
        seen = merged.get(r.id)
        if seen is None:
            merged[r.id] = Record(**{**r.__dict__, "sources": list(r.sources)})
        elif r.kind == seen.kind == CARD:
            seen.sources.extend(s for s in r.sources if s not in seen.sources)
        else:
            where = f"{seen.sources[0]}:{seen.line}" if seen.line else seen.sources[0]
            warnings.append(Warning_(r.sources[0], r.line, f"skipped: id {r.id!r} is already used by {where}", r.id))
    for r in merged.values():
        r.sources.sort()
    return list(merged.values()), warnings
