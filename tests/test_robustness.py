"""Hostile input: arbitrary text for the parser, analyzer and search, and a
damaged index.  The property tests run a few hundred examples by default;
`pytest -m fuzz` runs 10,000 each."""

import os
import unicodedata
from collections import Counter

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchkit import QuerySyntaxError, SearchIndex
from searchkit.analysis import char_arrays, char_tokens, word_arrays, word_tokens
from searchkit.cli import main
from searchkit.errors import IndexUnreadableError
from searchkit.indexer import build_index
from searchkit.layout import current_generation
from searchkit.pages import KINDS, PageError, parse_page
from searchkit.text import _nfkc, normalize

# Any code point, lone surrogates included (a Python string from JSON can
# hold one); and the characters the pages use, with controls, emoji,
# combining marks (e + U+0301), ℃ and a ligature, which change length.
TEXT = st.text(st.characters(), max_size=300) | st.text(
    st.sampled_from(list("医保卡北京二月闹痛 ,。、:：-•\n\r\t\"()一1.健康新闻2025-03-31相关推荐提示首页顶部ＨＰＶ醫😀\x00")
                    + ["\ud800", "\udfff", "\u0301", "\u0308", "\u20dd", "e", "℃", "ﬁ", "ｶ", "ﾞ"]),
    max_size=300)
FEW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MANY = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check_parser(text):
    try:
        records = parse_page(text, "fuzz.txt")
    except PageError:
        return
    assert records[0].kind == "article" and records[0].title
    for r in records:
        assert r.kind in KINDS and isinstance(r.body, str) and r.id
        assert r.date is None or len(r.date) == 10


def check_analyzer(text):
    assert _nfkc(text) == unicodedata.normalize("NFKC", text)  # the fast path is exact
    n = normalize(text)
    for tokens in (char_tokens(n.text), word_tokens(n.text)):
        for t, _, s, e in tokens:
            assert 0 <= s < e <= len(n.text) and n.text[s:e] == t
            a, b = n.to_original(s, e)
            assert 0 <= a <= b <= len(text)
    # The indexing path (a batch at a time) yields the terms of the query path.
    texts = [n.text, normalize(text[::-1]).text]
    for batch, stream in ((char_arrays(texts), char_tokens), (word_arrays(texts), word_tokens)):
        for i, t in enumerate(texts):
            assert Counter(batch.terms[j] for j in batch.ids[batch.docs == i]) == Counter(x for x, *_ in stream(t))


def check_search(ix, query):
    try:
        res = ix.search(query, limit=5)
    except QuerySyntaxError as e:
        assert "\n" not in str(e)
        return
    for h in res:
        for s, e in h.highlights:
            assert 0 <= s < e <= len(h.snippet)


@FEW
@given(TEXT)
def test_parser_never_raises(text):
    check_parser(text)


@FEW
@given(TEXT)
def test_analyzer_offsets_stay_in_the_text(text):
    check_analyzer(text)


@FEW
@given(TEXT)
def test_search_on_arbitrary_text(seeds_search, text):
    check_search(seeds_search, text)


@pytest.mark.fuzz
@MANY
@given(TEXT)
def test_fuzz_parser(text):
    check_parser(text)


@pytest.mark.fuzz
@MANY
@given(TEXT)
def test_fuzz_analyzer(text):
    check_analyzer(text)


@pytest.mark.fuzz
@MANY
@given(TEXT)
def test_fuzz_search(seeds_search, text):
    check_search(seeds_search, text)


@pytest.mark.parametrize("query, code, message", [
    ("AND OR NOT", 2, "'AND' needs a word on each side"), ("((((", 2, "unbalanced parenthesis"),
    ('"""', 2, "unbalanced quote"), ("title:", 2, "'title:' needs a word after it"),
    ("😀😀", 2, "no searchable words"), ("\x00\x07", 2, "empty query"), ("的了吗", 0, ""),
    ("-医保", 2, "at least one word that is not excluded"), ("医" * 100_000, 2, "query too long"),
    ("title:\"\"", 2, "empty query"), ("NOT NOT 医保", 2, "'NOT' needs a word after it"),
    ("医保 AND AND 北京", 2, "'AND' needs a word on each side"), ("鳄鱼", 1, "no results for '鳄鱼'"),
    ("医\ud800保", 0, ""), ("https://www.example.com/医保", 0, "")])
def test_hostile_queries_get_a_result_or_one_line(seeds_index, query, code, message):
    # catch_exceptions=False: an exception the CLI does not handle fails the
    # test instead of passing as click's exit code 1.
    r = CliRunner().invoke(main, ["search", query, "--index-dir", seeds_index], catch_exceptions=False)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.stderr
    if code:
        assert r.stderr.startswith("searchkit: ") and message in r.stderr and len(r.stderr.splitlines()) == 1
        assert r.stdout == ""
    else:
        assert "results for" in r.stdout


@pytest.mark.parametrize("suffix", [".skp", ".trm", "_stored.col"])
def test_truncated_segment_says_rebuild(seeds_copy, tmp_path, suffix):
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    gen = current_generation(idx)
    seg = next(os.path.join(gen, f) for f in os.listdir(gen) if f.endswith(suffix))
    with open(seg, "r+b") as f:
        f.truncate(os.path.getsize(seg) // 3)
    with pytest.raises(IndexUnreadableError) as e:
        with SearchIndex.open(idx) as ix:
            ix.search("医保")
    assert "--rebuild" in str(e.value)
    r = CliRunner().invoke(main, ["search", "医保", "--index-dir", idx], catch_exceptions=False)
    assert r.exit_code == 2 and "rebuild" in r.stderr and "Traceback" not in r.stderr
    # and a rebuild repairs it
    build_index([str(seeds_copy)], idx, rebuild=True)
    with SearchIndex.open(idx) as ix:
        assert ix.search("医保").total > 0


def test_a_directory_that_is_not_an_index(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    r = CliRunner().invoke(main, ["search", "医保", "--index-dir", str(tmp_path)], catch_exceptions=False)
    assert r.exit_code == 2 and "searchkit index" in r.stderr and "Traceback" not in r.stderr
