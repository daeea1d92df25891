import json

import numpy as np
import pytest

from searchkit import QuerySyntaxError, SearchIndex
from searchkit.errors import UsageError
from searchkit.indexer import build_index
from searchkit.query import parse_query
from searchkit.sources import load, merge_records
from searchkit.text import norm


def _all_records(seed_files):
    records, repeated = merge_records([r for f in seed_files for r in load(str(f)).records])
    assert repeated == []
    return records


def test_erYueNao_cards_rank_first(seeds_search):
    hits = seeds_search.search("二月闹").hits
    assert [h.kind for h in hits[:4]] == ["card"] * 4
    assert all("二月闹" in h.title for h in hits[:4])
    assert "二月闹" not in hits[4].title


def test_beijing_article_first(seeds_search):
    top = seeds_search.search("北京医保卡首次使用").hits[0]
    assert (top.id, top.kind, top.title) == ("000_162322ff5d1d489a", "article", "北京医保卡首次如何使用")


def test_traditional_query_finds_the_same(seeds_search):
    a = seeds_search.search("醫保卡", limit=20)
    b = seeds_search.search("医保卡", limit=20)
    assert a.total == b.total > 0
    assert [(h.id, round(h.score, 4)) for h in a] == [(h.id, round(h.score, 4)) for h in b]


def test_quoted_phrase_finds_exactly_the_texts_with_it(seeds_search, seed_files):
    expected = {r.id for r in _all_records(seed_files) if "异地就医" in r.title + "\n" + r.body}
    res = seeds_search.search('"异地就医"', limit=100)
    assert expected and {h.id for h in res} == expected
    assert not res.relaxed


def test_phrase_needs_the_characters_in_order_and_together(tmp_path):
    f = tmp_path / "p.jsonl"
    texts = ["办理异地就医备案", "在异地,就医时带上医保卡", "就医异地都可以", "异地 就医"]
    f.write_text("\n".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) for i, t in enumerate(texts)),
                 encoding="utf-8")
    build_index([str(f)], str(tmp_path / "ix"))
    with SearchIndex.open(str(tmp_path / "ix")) as ix:
        assert [h.id for h in ix.search('"异地就医"')] == ["0"]
        # A space or punctuation inside a phrase matches any (or no) space or punctuation.
        assert {h.id for h in ix.search('"异地 就医"')} == {"0", "1", "3"}
        assert {h.id for h in ix.search('"异地，就医时"')} == {"1"}
        hit = next(h for h in ix.search('"异地 就医"') if h.id == "0")
        assert "".join(hit.snippet[s:e] for s, e in hit.highlights) == "异地就医"


def test_missing_phrase_falls_back_to_words(seeds_search):
    res = seeds_search.search('"北京首次就医"')
    assert res.relaxed and res.total > 0


def test_single_character_finds_words_containing_it(seeds_search, seed_files):
    res = seeds_search.search("痛", limit=100)
    assert any("头痛" in seeds_search.get(h.id).body for h in res)
    containing = {r.id for r in _all_records(seed_files) if "痛" in r.title + r.body}
    assert {h.id for h in res} >= containing


def test_whole_word_matches_outrank_character_matches(seeds_search, seed_files):
    res = seeds_search.search("报销", limit=200)
    records = {r.id: r for r in _all_records(seed_files)}
    has_word = [("报销" in records[h.id].title + records[h.id].body) for h in res]
    assert any(has_word) and not all(has_word)
    first_without = has_word.index(False)
    assert all(has_word[:first_without]) and not any(has_word[first_without:])


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory):
    d = tmp_path_factory.mktemp("mixed")
    docs = [
        ("m1", "COVID-19疫苗第三针", "接种COVID-19疫苗加强针后要注意观察。"),
        ("m2", "HPV疫苗几价好", "九价HPV疫苗覆盖的病毒型别更多。"),
        ("m3", "2型糖尿病饮食", "2型糖尿病患者要控制主食。"),
        ("m4", "1型糖尿病胰岛素", "1型糖尿病需要终身注射胰岛素。"),
        ("m5", "医保热线", "查询可以拨打96102热线。"),
        ("m6", "胰腺癌手术", "胰十二指肠切除术又叫Whipple手术。"),
        ("m7", "疫苗接种须知", "接种疫苗前要如实告知过敏史。"),
    ]
    f = d / "mixed.jsonl"
    f.write_text("\n".join(json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False) for i, t, x in docs),
                 encoding="utf-8")
    build_index([str(f)], str(d / "index"))
    with SearchIndex.open(str(d / "index")) as ix:
        yield ix


@pytest.mark.parametrize("query,expected", [
    ("96102", "m5"), ("2型糖尿病", "m3"), ("HPV", "m2"), ("ＨＰＶ疫苗", "m2"), ("whipple", "m6"),
    ("COVID-19", "m1"), ("1型糖尿病", "m4"),
])
def test_digits_and_latin_are_searchable(mixed_index, query, expected):
    assert mixed_index.search(query).hits[0].id == expected


def test_kind_and_date_filters(seeds_search):
    arts = seeds_search.search("医保", kind="article", limit=50)
    assert arts.total == 5 and {h.kind for h in arts} == {"article"}
    dated = seeds_search.search("医保", since="2025-04-01", until="2025-04-30", limit=100)
    assert dated.total > 0 and all("2025-04-01" <= h.date <= "2025-04-30" for h in dated)
    everything = seeds_search.search("医保", limit=1)
    assert everything.total > dated.total


def test_highlights_point_at_the_matched_characters(seeds_search):
    for q, lit in (("二月闹", {"二月闹"}), ("拉萨 头痛", {"拉萨", "头痛"}), ("醫保", {"医保"})):
        hits = seeds_search.search(q, limit=6).hits
        assert all(h.highlights for h in hits[:3]), q
        for h in hits:
            assert {norm(h.snippet[s:e]) for s, e in h.highlights} <= lit | {"头疼", "医疗保险", "医保卡"}
            assert 20 <= len(h.snippet) <= 120


def test_operators(seeds_search):
    no_beijing = seeds_search.search("医保 NOT 北京", limit=200)
    assert no_beijing.total > 0
    for h in no_beijing:
        doc = seeds_search.get(h.id)
        assert "北京" not in doc.title + doc.body
    both = seeds_search.search("医保 AND 南京", limit=200)
    assert both.total > 0
    for h in both:
        doc = seeds_search.get(h.id)
        assert "医保" in doc.title + doc.body and "南京" in doc.title + doc.body
    titled = seeds_search.search("title:拉萨", limit=50)
    assert titled.total == 3 and all("拉萨" in h.title for h in titled)
    either = seeds_search.search("狐臭 OR 高粱", limit=50)
    assert {("狐臭" in h.title) or ("高粱" in h.title) for h in either.hits[:4]} == {True}


def test_paging(seeds_search):
    one = seeds_search.search("医保", limit=5, page=1).hits
    two = seeds_search.search("医保", limit=5, page=2).hits
    both = seeds_search.search("医保", limit=10).hits
    assert [h.id for h in one + two] == [h.id for h in both]


@pytest.mark.parametrize("query", ['"没有结尾', "(医保", "医保)", "AND", "医保 AND", "-", "NOT",
                                   "", "！！！", "x" * 5000])
def test_bad_queries_raise_one_line_errors(seeds_search, query):
    with pytest.raises(QuerySyntaxError) as e:
        seeds_search.search(query)
    assert "\n" not in str(e.value)


def test_bad_dates_and_kinds(seeds_search):
    with pytest.raises(UsageError):
        seeds_search.search("医保", since="2025-13-01")
    with pytest.raises(UsageError):
        seeds_search.search("医保", kind="video")


def test_synonym_entries_of_several_words_apply_where_they_span_whole_words():
    from searchkit.query import Clause
    from searchkit.ranking import Ranking, clause_terms
    from searchkit.words import clause_words

    # jieba cuts 什么原因 into 什么 + 原因; the entry still finds its synonyms.
    assert "什么原因" in [w for w, *_ in clause_words("突然手疼是什么原因")]
    assert "怎么回事" in {t for _, t, _ in clause_terms(Clause(text="突然手疼是什么原因"), Ranking())}
    # 多少钱 (an entry) sits in 多少钱包 only across the words 多少 + 钱包: no match.
    assert "多少钱" not in [w for w, *_ in clause_words("多少钱包")]


def test_values_of_one_facet_are_ored_and_facets_anded(seeds_search):
    counts = seeds_search.search("医保", facets={}, limit=200).facets
    both = seeds_search.search("医保", facets={"city": ["北京", "南京"]}, limit=200)
    assert both.total == counts["city"]["北京"] + counts["city"]["南京"]  # no title names both
    assert all("北京" in h.title or "南京" in h.title for h in both)
    assert any("北京" in h.title for h in both) and any("南京" in h.title for h in both)
    march = seeds_search.search("医保", facets={"city": ["北京", "南京"], "month": "2025-03"}, limit=200)
    assert 0 < march.total < both.total and all(h.date.startswith("2025-03") for h in march)
    assert seeds_search.search("医保", facets={"city": "北京"}, limit=200).total == counts["city"]["北京"]


@pytest.mark.parametrize("facets", [{"town": "北京"}, {"city": []}, {"city": ["北京", 3]}])
def test_bad_facet_filters_raise_like_the_cli(seeds_search, facets):
    with pytest.raises(UsageError) as e:
        seeds_search.search("医保", facets=facets)
    assert "facet" in str(e.value) and "\n" not in str(e.value)


def test_dates_may_be_dates(seeds_search):
    import datetime

    as_text = [h.id for h in seeds_search.search("医保", since="2025-03-10", until="2025-04-20", limit=200)]
    as_dates = [h.id for h in seeds_search.search("医保", since=datetime.date(2025, 3, 10),
                                                  until=datetime.datetime(2025, 4, 20, 23, 59), limit=200)]
    assert as_text == as_dates and 0 < len(as_text) < seeds_search.search("医保", limit=200).total


def test_a_url_in_a_query_is_words_not_a_field(seeds_search):
    res = seeds_search.search("https://www.example.com/医保卡 首次使用")
    assert res.total > 0 and "医保卡" in res.hits[0].title
    assert seeds_search.search("title:医保卡").total > 0  # known fields still work


@pytest.mark.parametrize("query", ["二月闹", "医保卡怎么办", "北京 医保", "孩子发烧了吃什么药"])
def test_common_terms_added_as_vectors_score_as_their_postings(seeds_index, monkeypatch, query):
    """Terms in many documents are summed as cached per-document vectors,
    the rest by scattering their postings: both ways give the same scores."""
    import searchkit.ranking
    import searchkit.scoring

    def run(share):
        for module in (searchkit.scoring, searchkit.ranking):
            monkeypatch.setattr(module, "DENSE_SHARE", share)
        with SearchIndex.open(seeds_index) as ix:
            found = ix.search(query, limit=50, partial=True)
            return found.total, found.partial, [(h.id, h.score) for h in found.hits]

    vectors, postings = run(10 ** 9), run(0)  # every term as a vector; none
    assert vectors[:2] == postings[:2] and len(vectors[2]) > 5
    assert [i for i, _ in vectors[2]] == [i for i, _ in postings[2]]
    assert [s for _, s in vectors[2]] == pytest.approx([s for _, s in postings[2]], rel=1e-5)


@pytest.mark.parametrize("k", [1, 3, 10, 50, 100000])
def test_best_documents_are_the_top_of_a_full_sort_ties_to_the_lower_number(seeds_search, k):
    """The top-k selection every stage uses (from a sampled threshold) picks
    exactly what sorting every candidate would, on real scores, with ties
    made common by rounding, in pools of every size."""
    from searchkit.ranking import Matcher
    from searchkit.topk import best

    matcher = Matcher(seeds_search._postings, seeds_search._searcher, seeds_search.ranking)
    scores, matched = matcher.run(parse_query("北京医保卡首次使用"))
    rng = np.random.default_rng(7)
    for rounded in (scores, np.round(scores, 0), np.zeros_like(scores)):
        for pool in (matched, matched & (rng.random(matched.size) < 0.1), np.zeros_like(matched), ~matched):
            docs = np.flatnonzero(pool)
            expected = docs[np.lexsort((docs, -rounded[docs]))][:k]
            assert best(rounded, pool, k).tolist() == expected.tolist()
    assert matched.sum() > 50 and len(set(np.round(scores, 0)[matched].tolist())) < 50  # ties were there


def test_snippets_fold_in_full_the_bodies_the_index_marks_traditional(tmp_path):
    """The index records which bodies need no traditional-to-simplified
    conversion, and snippets skip it for those only: a traditional body,
    or one where only a phrase converts (回覆 -> 回复), still lights up
    the simplified query.  Whoosh's own merge does not know the flags:
    every body is then folded in full, with the same snippets."""
    from whoosh import index as whoosh_index

    from searchkit.codec import SearchkitCodec
    from searchkit.layout import current_generation

    docs = [("t1", "醫保卡遺失", "醫保卡遺失了怎麼辦？請先掛失醫保卡，再補辦。"),
            ("s1", "医保卡丢了", "医保卡丢了怎么办？先挂失医保卡，再补办。"),
            ("p1", "问医生", "我的回覆能给您帮助吗？")]
    f = tmp_path / "docs.jsonl"
    f.write_text("\n".join(json.dumps({"id": i, "title": t, "text": x}, ensure_ascii=False) for i, t, x in docs),
                 encoding="utf-8")
    index_dir = str(tmp_path / "index")
    build_index([str(f)], index_dir)

    def check(flags):
        with SearchIndex.open(index_dir) as ix:
            assert flags == {ix._postings.stored(d)["id"]: bool(ix._postings.simplified[d])
                             for d in range(ix._postings.n)}
            hits = {h.id: h for h in ix.search("医保卡 挂失").hits}
            for hit in (hits["t1"], hits["s1"]):
                assert [hit.snippet[s:e] for s, e in hit.highlights][:2] in (["醫保卡", "掛失"], ["医保卡", "挂失"])
            (reply,) = ix.search("回复").hits
            assert [reply.snippet[s:e] for s, e in reply.highlights] == ["回覆"]

    check({"t1": False, "s1": True, "p1": False})
    wix = whoosh_index.open_dir(current_generation(index_dir))
    wix.writer(codec=SearchkitCodec()).commit(optimize=True)
    wix.close()
    check({"t1": False, "s1": False, "p1": False})


def test_posting_cache_is_bounded_by_bytes_least_recently_used_out(seeds_search):
    """The cache holds what fits its byte budget, whatever the number of
    entries, and drops the least recently used first; a recalled entry is
    the one remembered."""
    from searchkit.scoring import ENTRY_BYTES, Postings, _footprint

    budget = 120 * ENTRY_BYTES
    p = Postings(seeds_search._searcher, cache_bytes=budget)
    terms = sorted(p.terms("chars"))
    assert len(terms) > 500
    first = terms[0]
    for t in terms:
        p.get("chars", t)
        p.recall(("chars", first))  # kept in use: never the least recent
        assert p._cache_bytes <= budget
    assert p._cache_bytes == sum(_footprint(v) for v, _ in p._cache.values())
    kept = [k for k in p._cache if k[0] == "chars"]
    assert ("chars", first) in p._cache and 50 < len(kept) < 120  # bounded by bytes, not by a count
    assert [k[1] for k in kept[:-1]] == terms[-len(kept) + 1:]  # the most recent others, in order
    docs, tf = p.get("chars", terms[-1])
    assert p.recall(("chars", terms[-1]))[0] is docs


def test_hits_records_are_cached_and_counted_in_the_byte_budget(seeds_index):
    """A result's stored fields and folded body are read once and kept (as
    Solr's document cache): the same search gives the same hits, and the
    cache's byte count holds each cached body's text."""
    import sys

    from searchkit import SearchIndex

    with SearchIndex.open(seeds_index) as ix:
        first = ix.search("看病忘带医保卡怎么办", limit=5)
        cache = ix._postings._cache
        records = {k[1]: v for k, v in cache.items() if k[0] == "record"}
        folded = {k[1]: v for k, v in cache.items() if k[0] == "body folded"}
        assert len(records) == len(folded) == 5
        for d, (record, size) in records.items():
            assert size >= sys.getsizeof(record["body"]) > 2 * len(record["body"]) > 100  # Han text: 2 bytes a character
            assert folded[d][1] >= sys.getsizeof(folded[d][0].text)
        again = ix.search("看病忘带医保卡怎么办", limit=5)
        assert [(h.id, h.snippet, h.highlights, h.missing) for h in again.hits] == \
               [(h.id, h.snippet, h.highlights, h.missing) for h in first.hits]
        assert any("若未携带医保卡" in h.snippet for h in first.hits)  # the answer, as before the cache


def test_weighted_term_vectors_are_shared_read_only_and_add_up_to_the_postings(seeds_search):
    """A common term's weighted BM25 is kept as a whole vector, shared by
    every query that adds it: it is read-only, adding it leaves it as it
    was (the same query scores the same again), and the sum over a query's
    terms is what scattering every term's postings gives."""
    import numpy as np

    from searchkit.query import Clause
    from searchkit.ranking import Ranking, bm25, clause_terms
    from searchkit.scoring import DENSE_SHARE

    p, r = seeds_search._postings, Ranking()
    terms = clause_terms(Clause(text="看病忘带医保卡怎么办"), r)
    sizes = [p.fields_bm25(t, f, r.k1)[0].size for f, t, _ in terms]
    assert any(s * DENSE_SHARE > p.n for s in sizes) and any(0 < s * DENSE_SHARE <= p.n for s in sizes)
    first = bm25(p, terms, r.k1)
    shared = [v for k, v in p._dense.items() if k[0] == "bm25"]
    assert shared and not any(v.flags.writeable for v in shared)
    assert np.array_equal(bm25(p, terms, r.k1), first)
    scattered = np.zeros(p.n)
    for fields, text, weight in terms:
        docs, part = p.fields_bm25(text, fields, r.k1)
        np.add.at(scattered, docs, part * weight)
    assert np.allclose(first, scattered, rtol=1e-5) and (first > 0).sum() > p.n // 2
    # One common term alone: still a new array the caller may change, not the cached vector.
    common = [(f, t, w) for (f, t, w), size in zip(terms, sizes) if size * DENSE_SHARE > p.n][:1]
    alone = bm25(p, common, r.k1)
    assert alone.flags.writeable and not any(np.shares_memory(alone, v) for v in p._dense.values())
    alone *= 0
    assert np.array_equal(bm25(p, terms, r.k1), first)
    # Arbitrary weights (similar's tf-idf) reuse the unweighted vector instead of adding products.
    before = set(p._dense)
    odd = [(f, t, w * 0.123) for f, t, w in common]
    assert np.allclose(bm25(p, odd, r.k1, cache_weighted=False), bm25(p, common, r.k1) * 0.123, rtol=1e-6)
    assert all(k[4] == 1.0 for k in set(p._dense) - before)
    assert ("bm25", common[0][1], common[0][0], r.k1, 1.0) in p._dense
