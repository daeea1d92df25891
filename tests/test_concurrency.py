"""One SearchIndex shared by threads answers as it does alone; a closed or
empty index behaves (issue: correct under threads, misuse and odd input)."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner

from searchkit import SearchIndex
from searchkit.cli import main
from searchkit.errors import IndexClosedError, IndexUnreadableError, SearchkitError
from searchkit.indexer import build_index

QUERIES = ["二月闹", "北京医保卡首次使用", "yibao", "医保 -北京", "医宝卡", '"异地就医"', "宝宝 哭闹",
           "title:医保卡", "医保 AND 南京", "社保卡 OR 医保卡", "职工医保", "婴儿肠绞痛怎么办"]


def _answer(ix: SearchIndex, i: int):
    """The i-th operation of a mixed workload, as plain data."""
    q = QUERIES[i % len(QUERIES)]
    op = i % 6
    if op == 0:
        r = ix.search(q, limit=5)
        return [(h.id, round(h.score, 4), h.snippet, h.highlights) for h in r.hits], r.total, r.pinyin, r.suggestion
    if op == 1:
        r = ix.search(q, limit=5, page=2, snippets=False, facets={})
        return [h.id for h in r.hits], r.facets
    if op == 2:
        hits = ix.search(q, limit=3, snippets=False).hits
        doc = ix.get(hits[0].id) if hits else None
        return doc and (doc.id, doc.title, len(doc.body))
    if op == 3:
        return [(s.text, s.count) for s in ix.suggest(["y", "yb", "医", "北京", "b", "二"][i % 6], limit=5)]
    if op == 4:
        hits = ix.search(q, limit=1, snippets=False).hits
        return hits and [h.id for h in ix.similar(hits[0].id, limit=3)]
    return [h.id for h in ix.search(q, limit=5, sort="date", facets={"city": "北京"}).hits]


def test_shared_index_answers_as_alone_under_8_threads(seeds_index):
    threads, per_thread = 8, 500
    with SearchIndex.open(seeds_index) as alone:
        expected = {i: _answer(alone, i) for i in range(len(QUERIES) * 6)}
    errors: list[BaseException] = []
    wrong: list[int] = []
    shared = SearchIndex.open(seeds_index)  # cold: caches fill while threads race
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait()
        for k in range(per_thread):
            i = (t * 7 + k) % len(expected)
            try:
                if _answer(shared, i) != expected[i]:
                    wrong.append(i)
            except BaseException as e:  # noqa: BLE001 - every failure counts
                errors.append(e)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    shared.close()
    assert not errors, errors[:3]
    assert not wrong, sorted(set(wrong))[:10]


def test_closed_index_says_so_and_closes_twice(seeds_index):
    ix = SearchIndex.open(seeds_index)
    ix.close()
    ix.close()
    for call in (lambda: ix.search("医保"), lambda: ix.get("cfc1cc326fbca"), lambda: ix.suggest("yb"),
                 lambda: ix.similar("cfc1cc326fbca"), ix.stats):
        with pytest.raises(IndexClosedError, match="is closed"):
            call()
    with SearchIndex.open(seeds_index) as ix2:
        ix2.close()  # closing inside `with` is fine too


def test_internal_errors_are_not_reported_as_a_damaged_index(seeds_index, monkeypatch):
    from searchkit import ranking

    def broken(*args, **kwargs):
        raise KeyError("a bug, not a damaged file")
    monkeypatch.setattr(ranking, "clause_terms", broken)
    with SearchIndex.open(seeds_index) as ix:
        with pytest.raises(KeyError):
            ix.search("医保")


def test_unreadable_message_names_the_index_dir_once_and_right(tmp_path):
    idx = tmp_path / "ix"
    idx.mkdir()
    (idx / "CURRENT").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexUnreadableError) as e:
        SearchIndex.open(str(idx))
    assert str(e.value).endswith(f"rebuild it with: searchkit index --rebuild --index-dir {idx}")
    assert isinstance(e.value, SearchkitError)


def test_index_built_from_nothing_is_valid_and_fills_later(tmp_path, seed_files):
    empty, idx = tmp_path / "empty", str(tmp_path / "e1")
    empty.mkdir()
    runner = CliRunner()
    r = runner.invoke(main, ["index", str(empty), "--index-dir", idx])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["search", "医保", "--index-dir", idx])
    assert r.exit_code == 1 and "no results" in r.output and "Traceback" not in r.output
    with SearchIndex.open(idx) as ix:
        assert len(ix) == 0 and ix.search("医保").total == 0 and ix.suggest("yb") == []
    build_index([str(f) for f in seed_files], idx)
    r = runner.invoke(main, ["search", "医保", "--index-dir", idx])
    assert r.exit_code == 0 and "医保" in r.output


def test_close_waits_for_searches_in_flight(seeds_index):
    ix = SearchIndex.open(seeds_index)
    failures: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        while not done.is_set():
            try:
                ix.search("医保 北京")
            except IndexClosedError:
                return
            except BaseException as e:  # noqa: BLE001 - anything else is a failure
                failures.append(e)
                return

    pool = [threading.Thread(target=work) for _ in range(4)]
    for th in pool:
        th.start()
    threading.Event().wait(0.3)
    ix.close()
    done.set()
    for th in pool:
        th.join()
    assert not failures, failures[:3]
