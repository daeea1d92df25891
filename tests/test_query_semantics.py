"""One meaning per operator, at the top level and inside groups; pinyin
read per clause (seeds index)."""

from __future__ import annotations


def _ids(ix, query: str, **kw) -> set[str]:
    return {h.id for h in ix.search(query, limit=500, snippets=False, suggest=False, **kw).hits}


def _titles(ix, query: str) -> list[str]:
    return [h.title for h in ix.search(query, limit=500, snippets=False, suggest=False).hits]


def test_exclusion_in_a_group_means_the_words(seeds_search):
    grouped, plain = _ids(seeds_search, "医保 NOT (北京)"), _ids(seeds_search, "医保 -北京")
    assert grouped == plain
    titles = _titles(seeds_search, "医保 NOT (北京)")
    assert any("南京" in t for t in titles)  # 南京 shares 京 with 北京 but stays
    assert not any("北京" in t for t in titles)
    # A group of several exclusions removes pages with either word, not with any of their characters.
    either = _ids(seeds_search, "医保 NOT (北京 OR 南京)")
    assert either == plain - _ids(seeds_search, '"南京"') and either


def test_required_words_relax_the_same_inside_a_group(seeds_search):
    plain = seeds_search.search("医保 AND 鳄鱼", limit=5)
    grouped = seeds_search.search("(医保 AND 鳄鱼)", limit=5)
    assert plain.relaxed and grouped.relaxed
    assert grouped.total == plain.total > 0
    assert [h.id for h in grouped.hits] == [h.id for h in plain.hits]


def test_pinyin_is_read_per_clause(seeds_search):
    alone = _ids(seeds_search, "yibao")
    assert seeds_search.search("yibao").pinyin == ["医保"]
    for query in ("yibao -北京", "yibao NOT 北京"):
        r = seeds_search.search(query, limit=500)
        assert r.pinyin == ["医保"] and r.total > 0
        assert {h.id for h in r.hits} == _ids(seeds_search, "医保 -北京") and {h.id for h in r.hits} < alone
    titled = seeds_search.search("title:yibao", limit=500)
    assert titled.pinyin == ["医保"] and titled.hits
    assert [h.id for h in titled.hits] == [h.id for h in seeds_search.search("title:医保", limit=500).hits]
    assert "医保" in titled.hits[0].title
