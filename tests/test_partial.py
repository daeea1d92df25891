"""Partial matches are said plainly, snippets serve the question, and a
confident did-you-mean is followed (seeds)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from searchkit.cli import main
from conftest import index_of_texts


def test_partial_matches_rank_last_and_count_apart(seeds_search):
    r = seeds_search.search("二月闹", limit=50)
    assert r.total == 4 and r.partial == 43
    full, partial = r.hits[:4], r.hits[4:]
    assert all("二月闹" in h.title and not h.missing and not h.partial for h in full)
    assert partial and all(h.partial and h.missing == ["二月闹"] for h in partial)
    assert "6个月引产有生育津贴吗" in [h.title for h in partial]
    only = seeds_search.search("二月闹", limit=50, partial=False)
    assert [h.id for h in only.hits] == [h.id for h in full] and only.total == 4


def test_missing_lists_the_words_a_full_match_lacks(seeds_search):
    hits = seeds_search.search("北京医保卡首次使用", limit=10).hits
    assert hits[0].title.startswith("北京医保卡首次") and hits[0].missing == []
    lacking = {h.title: h.missing for h in hits}
    assert lacking["职工医保卡首次使用"] == ["北京"]


def test_a_part_of_a_longer_query_word_held_whole_is_a_full_match(tmp_path):
    from searchkit import SearchIndex

    # Real titles of the shared KUAKE corpus.  jieba reads the query as 月经期 (月经, 经期),
    # 可以, 喝牛奶 (牛奶), 么: the first title holds 月经 and 牛奶 whole, the last none of them.
    titles = ["来月经时可以喝纯牛奶吗?", "月经期可以喝牛奶吗", "经常喝水好吗"]
    with SearchIndex.open(index_of_texts(tmp_path, titles)) as ix:
        r = ix.search("月经期可以喝牛奶么")
    by_id = {h.id: h for h in r.hits}
    assert r.total == 2 and r.partial == 1 and by_id["d2"].partial and r.hits[-1].id == "d2"
    assert not by_id["d0"].partial and by_id["d0"].missing == ["月经期", "喝牛奶", "么"]


def test_cli_and_json_show_partial_matches(seeds_index):
    runner = CliRunner()
    r = runner.invoke(main, ["search", "二月闹", "--index-dir", seeds_index, "-n", "6"])
    assert r.exit_code == 0
    assert "4 results for '二月闹' (+43 partial matches)" in r.output
    assert r.output.index("--- partial matches") > r.output.index("开始前的征兆")
    assert "missing: 二月闹" in r.output
    r = runner.invoke(main, ["search", "二月闹", "--index-dir", seeds_index, "--no-partial", "-n", "10"])
    assert r.exit_code == 0 and "missing:" not in r.output and "4 results for '二月闹' (showing 1-4)" in r.output
    r = runner.invoke(main, ["search", "二月闹", "--index-dir", seeds_index, "--json", "-n", "6"])
    data = json.loads(r.output)
    assert (data["total"], data["partial"]) == (4, 43)
    assert data["hits"][0]["missing"] == [] and data["hits"][5]["missing"] == ["二月闹"] and data["hits"][5]["partial"]


def test_snippet_shows_the_passage_that_answers(seeds_search):
    hits = seeds_search.search("看病忘带医保卡怎么办", limit=5).hits
    answer = next(h for h in hits if h.title == "北京医保卡首次如何使用")
    assert "若未携带医保卡" in answer.snippet


def test_confident_did_you_mean_is_followed(seeds_search, seeds_index):
    r = seeds_search.search("医宝")
    assert r.corrected == "医保" and r.query == "医宝" and r.total > 0
    assert all("医保" in h.title for h in r.hits[:5])
    assert seeds_search.search("医宝", suggest=False).corrected is None
    out = CliRunner().invoke(main, ["search", "医宝", "--index-dir", seeds_index, "-n", "1"])
    assert out.exit_code == 0 and "showing results for 医保; search instead for 医宝" in out.output
