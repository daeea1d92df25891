import json
import os

import numpy as np
import pytest

from searchkit import SearchIndex
from searchkit.errors import IndexLockedError, IndexMissingError, IndexUnreadableError, UsageError
from searchkit import indexer
from searchkit.indexer import build_index
from searchkit.layout import index_lock


def _ids(index_dir, query="医保"):
    with SearchIndex.open(index_dir) as ix:
        return [(h.id, round(h.score, 3)) for h in ix.search(query, limit=200)]


def test_incremental_add_change_remove(seeds_copy, tmp_path):
    idx = str(tmp_path / "ix")
    files = sorted(seeds_copy.iterdir())
    hidden = files[4].rename(tmp_path / files[4].name)  # start with four pages
    first = build_index([str(seeds_copy)], idx)
    assert (first.rebuilt, first.articles, first.cards) == (True, 4, 80)

    same = build_index([str(seeds_copy)], idx)
    assert (same.rebuilt, same.changed_files, same.added) == (False, 0, 0)

    hidden.rename(files[4])  # add a page
    added = build_index([str(seeds_copy)], idx)
    assert (added.changed_files, added.articles, added.cards) == (1, 1, 20)
    with SearchIndex.open(idx) as ix:
        assert len(ix) == 105

    page = files[0]  # change a page's title
    page.write_text(page.read_text(encoding="utf-8").replace("北京医保卡首次如何使用", "北京医保卡第一次怎么用", 1),
                    encoding="utf-8")
    changed = build_index([str(seeds_copy)], idx)
    assert changed.changed_files == 1 and changed.articles == 1
    with SearchIndex.open(idx) as ix:
        assert ix.get(page.stem).title == "北京医保卡第一次怎么用"
        assert len(ix) == 105

    page.unlink()  # remove it: its article and its 20 cards go
    removed = build_index([str(seeds_copy)], idx)
    assert removed.removed_files == 1
    with SearchIndex.open(idx) as ix:
        assert ix.get(page.stem) is None
        assert len(ix) == 84


def test_shared_card_keeps_its_other_page_when_one_changes(seeds_copy, tmp_path):
    page = seeds_copy / "000_162322ff5d1d489a.txt"
    twin = seeds_copy / "twin.txt"
    twin.write_text("另一篇\n\n正文。\n相关推荐\n\n" + page.read_text(encoding="utf-8").split("相关推荐", 1)[1],
                    encoding="utf-8")
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    twin.write_text("另一篇(改)\n\n正文。\n", encoding="utf-8")
    build_index([str(seeds_copy)], idx)
    with SearchIndex.open(idx) as ix:
        hit = ix.search("二月闹一般几天最严重").hits[0]
        assert hit.sources == [str(page)]


def test_failed_rebuild_leaves_the_old_index(seeds_copy, tmp_path, monkeypatch):
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    before = _ids(idx)

    def broken(writer, records, report, progress, pool=None):
        writer.add_document(**indexer._document(records[0]))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(indexer, "_add", broken)
    with pytest.raises(RuntimeError):
        build_index([str(seeds_copy)], idx, rebuild=True)
    assert _ids(idx) == before
    assert len([n for n in os.listdir(idx) if n.startswith("gen-")]) == 1  # the failed run removed its own
    monkeypatch.undo()
    report = build_index([str(seeds_copy)], idx, rebuild=True)
    assert report.cleaned == []  # nothing was interrupted
    assert _ids(idx) == before


def test_rebuild_swaps_the_pointer(seeds_copy, tmp_path):
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    old = json.load(open(os.path.join(idx, "CURRENT")))["current"]
    with SearchIndex.open(idx) as reader:  # a reader opened before the swap keeps working
        build_index([str(seeds_copy)], idx, rebuild=True)
        assert reader.search("医保").total > 0
    pointer = json.load(open(os.path.join(idx, "CURRENT")))
    assert pointer["current"] != old and pointer["previous"] == old


def test_second_writer_waits_then_gives_up(seeds_copy, tmp_path):
    idx = tmp_path / "ix"
    idx.mkdir()
    with index_lock(str(idx), wait=0):
        with pytest.raises(IndexLockedError) as e:
            build_index([str(seeds_copy)], str(idx), wait=0.2)
    assert e.value.exit_code == 3


def test_refuses_a_foreign_directory(seeds_copy, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("important")
    with pytest.raises(UsageError):
        build_index([str(seeds_copy)], str(foreign), rebuild=True)
    assert (foreign / "thesis.docx").read_text() == "important"


def test_missing_and_incompatible_index(seeds_copy, tmp_path):
    with pytest.raises(IndexMissingError):
        SearchIndex.open(str(tmp_path / "nothing"))
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    pointer_file = os.path.join(idx, "CURRENT")
    pointer = json.load(open(pointer_file))
    json.dump({**pointer, "format": 999}, open(pointer_file, "w"))
    with pytest.raises(IndexUnreadableError) as e:
        SearchIndex.open(idx)
    assert "--rebuild" in str(e.value)


def test_many_updates_merge_segments_and_rank_as_a_fresh_build(seeds_copy, tmp_path):
    """Each update adds a segment; past MAX_SEGMENTS the small ones are merged
    with their postings, and deleted documents stop counting in idf."""
    idx, fresh = str(tmp_path / "ix"), str(tmp_path / "fresh")
    build_index([str(seeds_copy)], idx)
    page = sorted(seeds_copy.iterdir())[1]
    text = page.read_text(encoding="utf-8")
    segments = []
    for i in range(indexer.MAX_SEGMENTS + 3):
        page.write_text(text.replace("\n", f"\n补充说明:第{i}次更新,异地就医需要备案。\n", 1), encoding="utf-8")
        os.utime(page, ns=(i * 10**9, i * 10**9))
        assert build_index([str(seeds_copy)], idx).changed_files == 1
        with SearchIndex.open(idx) as ix:
            segments.append(ix.stats().segments)
    # A replaced page's old segment is mostly deleted and is merged away at once.
    assert max(segments) <= 2
    build_index([str(seeds_copy)], fresh)
    for query in ("医保", "异地就医备案", "二月闹", '"第10次更新"'):
        assert sorted(_ids(idx, query)) == sorted(_ids(fresh, query)), query
    with SearchIndex.open(idx) as ix, SearchIndex.open(fresh) as clean:
        assert ix.search('"第3次更新"').relaxed and not ix.search('"第10次更新"').relaxed
        # Words of deleted records are not suggested.
        assert ix.vocabulary.df == clean.vocabulary.df
        # Merged parts keep which bodies fold without t2s (every seed body does).
        def flags(x):
            return sorted((x._postings.stored(d)["id"], bool(x._postings.simplified[d]))
                          for d in range(x._postings.n) if x._postings.live[d])
        assert flags(ix) == flags(clean) and all(f for _, f in flags(ix))


def test_interrupted_batch_is_not_written_on_cancel(seeds_copy, tmp_path, monkeypatch):
    # Ctrl-C can land while a batch is half added to the codec's accumulator;
    # cancelling the writer must drop it, not write it (which failed).
    from searchkit import postings

    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    before = _ids(idx)
    real = postings.Accumulator.add_arrays

    def interrupted(self, arrays, ndocs, simplified=None):
        if not self.ndocs:  # the first batch goes in whole
            return real(self, arrays, ndocs, simplified)
        runs = next(iter(self.fields.values()))
        runs.terms.append(np.zeros(3, np.int32))  # terms and documents grown, frequencies not
        runs.docs.append(np.zeros(3, np.int32))
        raise KeyboardInterrupt

    monkeypatch.setattr(indexer, "BATCH", 20)
    monkeypatch.setattr(postings.Accumulator, "add_arrays", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_index([str(seeds_copy)], idx, rebuild=True)
    monkeypatch.setattr(postings.Accumulator, "add_arrays", real)
    assert _ids(idx) == before
