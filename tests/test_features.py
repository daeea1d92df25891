"""Pinyin, did-you-mean, autocomplete, more-like-this, facets, sorting, stats,
settings files and terminal fitting."""

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from searchkit import SearchIndex
from searchkit.cli import main
from searchkit.indexer import build_index
from searchkit.render import fit
from searchkit.suggest import _MAX_READINGS, readings
from conftest import true_top_completions


@pytest.fixture(scope="module")
def pinyin_index(tmp_path_factory):
    d = tmp_path_factory.mktemp("pinyin")
    docs = [("latin", "Jingdian旅行社的名字"), ("place", "北京景点推荐"), ("book", "经典名方的用法"),
            ("acct", "会计人员的职业病"), ("gather", "汇集各地的医保政策"), ("acct2", "会计要久坐吗")]
    f = d / "docs.jsonl"
    f.write_text("\n".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in docs), encoding="utf-8")
    build_index([str(f)], str(d / "ix"))
    with SearchIndex.open(str(d / "ix")) as ix:
        yield ix


def test_pinyin_finds_hanzi(seeds_search):
    res = seeds_search.search("yibao")
    assert res.pinyin == ["医保"] and res.total > 50
    assert all("医保" in h.title + h.snippet for h in res.hits[:5])
    assert seeds_search.search("yb").pinyin == ["医保"]  # initials
    assert seeds_search.search("ertongyiyuan", limit=3).pinyin == ["儿童", "医院"]  # split into words


def test_latin_matches_outrank_pinyin_matches(pinyin_index):
    res = pinyin_index.search("jingdian")
    assert res.hits[0].id == "latin"
    assert res.pinyin == ["景点", "经典"] and {h.id for h in res.hits[1:]} == {"place", "book"}


def test_latin_that_matches_well_is_not_read_as_pinyin(seeds_search):
    res = seeds_search.search("app")
    assert res.pinyin == [] and res.total >= 3


def test_polyphones_follow_the_phrase_reading(pinyin_index):
    assert readings("会计") == [["kuai", "ji"]]
    assert {h.id for h in pinyin_index.search("kuaiji")} >= {"acct", "acct2"}
    huiji = pinyin_index.search("huiji")
    assert huiji.hits[0].id == "gather" and "acct" not in {h.id for h in huiji}


def test_did_you_mean(seeds_search):
    assert seeds_search.search("医宝卡").suggestion == "医保卡"
    assert seeds_search.search("医保卡").suggestion is None
    assert seeds_search.search("医宝卡", suggest=False).suggestion is None


def test_autocomplete(seeds_search):
    han = seeds_search.suggest("二月", limit=10)
    texts = [s.text for s in han]
    assert "二月闹" in texts and any(s.kind == "title" and s.text.startswith("二月闹") for s in han)
    counts = [s.count for s in han]
    assert counts == sorted(counts, reverse=True)
    assert seeds_search.suggest("yb", limit=3)[0].text == "医保"
    assert seeds_search.suggest("zzzz") == []


def test_pinyin_autocomplete_is_the_true_top_k_for_any_prefix(seeds_search):
    vocab = seeds_search.vocabulary
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    for prefix in letters + ["yb", "er", "zh", "sh", "yi", "yib"]:
        for k in (1, 5, 10):
            got = [s.text for s in seeds_search.suggest(prefix, limit=k)]
            assert got == true_top_completions(vocab, prefix, k), (prefix, k)
    # j and s have more than 200 keys on the seeds: the true top word sits past them
    assert sum(key.startswith("j") for key in vocab.by_key) > 200
    assert all(len(readings(w)) <= _MAX_READINGS for w in vocab.words)


def test_more_like_this(seeds_search):
    hits = seeds_search.similar("c88e3798e5236", limit=5)  # 二月闹一般几天最严重
    assert len(hits) == 5 and "c88e3798e5236" not in [h.id for h in hits]
    assert all("二月闹" in h.title for h in hits[:3])


def test_facets_count_and_filter(seeds_search):
    res = seeds_search.search("医保", facets={}, limit=100)
    assert sum(res.facets["kind"].values()) == res.total
    assert res.facets["city"]["北京"] >= 5 and "南京" in res.facets["city"]
    beijing = seeds_search.search("医保", facets={"city": "北京"}, limit=100)
    assert beijing.total == res.facets["city"]["北京"]
    assert all("北京" in h.title for h in beijing)
    march = seeds_search.search("医保", facets={"month": "2025-03"}, limit=100)
    assert march.total == res.facets["month"]["2025-03"] and all(h.date.startswith("2025-03") for h in march)


def test_sort_by_date(seeds_search):
    hits = seeds_search.search("医保", sort="date", limit=100).hits
    for group in ([h for h in hits if not h.partial], [h for h in hits if h.partial]):  # partial matches last
        dates = [h.date or "" for h in group]
        assert dates and dates == sorted(dates, reverse=True)
    assert hits[0].date == "2025-04-21" and hits.index(next(h for h in hits if h.partial)) == 50


def test_stats(seeds_search):
    st = seeds_search.stats()
    assert st.documents == {"article": 5, "card": 100}
    assert st.vocabulary > 1000 and st.size_bytes > 0 and len(st.sources) == 5 and st.built


def test_fit_counts_wide_characters():
    text, spans = fit("北京医保卡首次如何使用", [(0, 2), (7, 9)], 10)
    assert text == "北京医保…" and spans == [(0, 2)]
    assert fit("abc", [], 10) == ("abc", [])


def _run(*args):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in r.stderr
    return r


def test_cli_features(seeds_index):
    r = _run("search", "医保", "--index-dir", seeds_index, "--facet", "city=北京", "--facets", "-n", "2")
    assert r.exit_code == 0 and "city: 北京" in r.stdout
    r = _run("search", "医保", "--index-dir", seeds_index, "--facet", "town=北京")
    assert r.exit_code == 2 and "--facet" in r.stderr
    r = _run("search", "医宝卡", "--index-dir", seeds_index)
    assert r.exit_code == 0 and "showing results for 医保卡; search instead for 医宝卡" in r.stderr
    r = _run("search", "医宝卡", "--index-dir", seeds_index, "--no-suggest")
    assert r.exit_code == 0 and "did you mean" not in r.stderr
    r = _run("suggest", "yb", "--index-dir", seeds_index, "-n", "2")
    assert r.exit_code == 0 and r.stdout.startswith("医保\tterm\t")
    r = _run("similar", "c88e3798e5236", "--index-dir", seeds_index, "-n", "2")
    assert r.exit_code == 0 and r.stdout.count("二月闹") >= 2
    r = _run("similar", "nope", "--index-dir", seeds_index)
    assert r.exit_code == 2 and "no record with id 'nope'" in r.stderr
    r = _run("stats", "--index-dir", seeds_index, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["documents"] == {"article": 5, "card": 100}
    data = json.loads(_run("search", "二月闹", "--index-dir", seeds_index, "--json", "-n", "1000").stdout)
    full = [h for h in data["hits"] if not h["partial"]]
    assert data["facets"]["kind"] == dict(Counter(h["kind"] for h in full)) and len(full) == data["total"] == 4


def test_settings_file_and_precedence(seeds_index, tmp_path, monkeypatch):
    run = CliRunner().invoke
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEARCHKIT_INDEX", raising=False)
    (tmp_path / "searchkit.toml").write_text(f'index_dir = "{seeds_index}"\nlimit = 2\n', encoding="utf-8")
    r = run(main, ["search", "二月闹"])
    assert r.exit_code == 0 and "showing 1-2" in r.output
    monkeypatch.setenv("SEARCHKIT_INDEX", str(tmp_path / "elsewhere"))
    assert run(main, ["search", "二月闹"]).exit_code == 2  # the environment beats the file
    assert run(main, ["search", "二月闹", "--index-dir", seeds_index, "-n", "3"]).output.count("showing 1-3") == 1
    (tmp_path / "searchkit.toml").write_text("colour = 1\n", encoding="utf-8")
    r = run(main, ["stats"])
    assert r.exit_code == 2 and "unknown setting" in r.output


def test_pyproject_table(seeds_index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEARCHKIT_INDEX", raising=False)
    (tmp_path / "pyproject.toml").write_text(f'[tool.searchkit]\nindex_dir = "{seeds_index}"\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["stats"])
    assert r.exit_code == 0 and "105" in r.output


def test_quiet_index(tmp_path, seeds_copy):
    r = CliRunner().invoke(main, ["-q", "index", str(seeds_copy), "--index-dir", str(tmp_path / "ix")])
    assert r.exit_code == 0 and r.output == ""
