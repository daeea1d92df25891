"""Source files: finding them, decoding them, hashing them, and turning each
into records (pages via :mod:`searchkit.pages`, JSONL line by line).

Problems with one file or one line become :class:`Warning_` entries (file,
line, reason) instead of exceptions, so one bad file never stops a build.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from .pages import ARTICLE, PageError, Record, parse_page

PAGE_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
# A real health page is tens of kilobytes; anything this big is a scraper
# accident that would hold up a build for minutes.
MAX_PAGE_BYTES = 8 * 1024 * 1024
MAX_TEXT_CHARS = 4 * 1024 * 1024


class DecodeError(ValueError):
    pass


@dataclass
class Warning_:
    source: str
    line: int | None
    reason: str

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


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 (covers GBK/GB2312).

    Binary data (NUL bytes) is refused rather than guessed at.
    """
    if b"\x00" in data:
        raise DecodeError("binary file (NUL bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":
            # A UTF-8 file cut off mid-character: keep what is whole rather
            # than misread the whole file as GB18030.
            return data[:e.start].decode("utf-8")
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise DecodeError("unknown encoding (neither UTF-8 nor GB18030)") from None


def discover(paths: list[str]) -> tuple[list[str], list[Warning_]]:
    """Page and JSONL files under ``paths`` as absolute paths (so runs from
    other directories agree), sorted, each once.

    Directory symlinks are followed, but a directory already visited (a
    symlink loop) is not entered again.
    """
    found: set[str] = set()
    warnings: list[Warning_] = []
    suffixes = PAGE_SUFFIXES + JSONL_SUFFIXES
    for p in paths:
        if os.path.isfile(p):
            found.add(os.path.abspath(p))
            continue
        if not os.path.isdir(p):
            warnings.append(Warning_(p, None, "no such file or directory"))
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
                    found.add(os.path.abspath(os.path.join(root, name)))
    return sorted(found), warnings


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


def parse_jsonl(text: str, source: str) -> tuple[list[Record], list[Warning_]]:
    records, warnings = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = _jsonl_record(json.loads(line))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            warnings.append(Warning_(source, n, f"skipped line: {str(e).splitlines()[0]}"))
            continue
        rec.sources = [source]
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


def load(path: str) -> SourceFile:
    """Read, decode and parse one file; failures become warnings."""
    stat = stat_key(path)
    try:
        data = read_bytes(path)
    except (OSError, DecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return SourceFile(path, "", warnings=[Warning_(path, None, f"skipped: {reason}")])
    sf = SourceFile(path, digest_of(data), stat=stat)
    try:
        text = decode(data)
    except DecodeError as e:
        sf.warnings.append(Warning_(path, None, f"skipped: {e}"))
        return sf
    if not text.strip():
        sf.warnings.append(Warning_(path, None, "skipped: empty file"))
    elif path.endswith(JSONL_SUFFIXES):
        sf.records, sf.warnings = parse_jsonl(text, path)
    else:
        try:
            sf.records = parse_page(text, path)
        except PageError as e:
            sf.warnings.append(Warning_(path, None, f"skipped: {e}"))
    return sf

