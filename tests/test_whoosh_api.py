"""The index is a Whoosh index: Whoosh's own API works on the files
searchkit builds (seeds only: no ../shared/ needed)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from whoosh import index as whoosh_index
from whoosh.qparser import MultifieldParser, OrGroup, QueryParser
from whoosh.query import And, Not, Or, Prefix, QueryError, Term

from searchkit import SearchIndex
from searchkit.cli import main
from searchkit.codec import SearchkitCodec
from searchkit.indexer import build_index
from searchkit.layout import current_generation


@pytest.fixture
def index_copy(seeds_index, tmp_path):
    """A writable copy of the seeds index."""
    dst = tmp_path / "index"
    shutil.copytree(seeds_index, dst)
    return str(dst)


@pytest.fixture
def ix(seeds_index):
    ix = whoosh_index.open_dir(current_generation(seeds_index))
    yield ix
    ix.close()


def test_open_dir_with_nothing_but_whoosh(seeds_index):
    # A fresh interpreter that never imports searchkit itself: Whoosh
    # unpickles the schema and codec from the table of segments.
    import subprocess
    import sys

    code = ("import sys; from whoosh import index; from whoosh.qparser import QueryParser\n"
            "ix = index.open_dir(sys.argv[1])\n"
            "with ix.searcher() as s:\n"
            "    print(len(s.search(QueryParser('body', ix.schema).parse('医保卡'))))")
    out = subprocess.run([sys.executable, "-c", code, current_generation(seeds_index)],
                         capture_output=True, text=True, check=True)
    assert int(out.stdout) > 0


def test_schema_analyzer_yields_the_indexed_terms(ix):
    terms = [t.text for t in ix.schema["body"].analyzer("北京医保卡")]
    assert terms == ["北京", "医保", "医保卡"]
    with ix.reader() as r:
        assert all(r.doc_frequency("body", t) > 0 for t in terms)
        chars = [t.text for t in ix.schema["title_chars"].analyzer("医保卡")]
        assert chars == ["医", "医保", "保", "保卡", "卡"]
        assert all(r.doc_frequency("title_chars", t) > 0 for t in chars)


def test_query_parser_search_overlaps_searchkit(ix, seeds_search):
    ours = [h.id for h in seeds_search.search("医保卡", limit=5).hits]
    with ix.searcher() as s:
        q = QueryParser("body", ix.schema).parse("医保卡")
        hits = s.search(q, limit=10)
        theirs = [h["id"] for h in hits]
        assert len(hits) > 10 and hits[0].score > hits[9].score > 0  # BM25F over our postings
        assert set(ours) & set(theirs)
        text = hits[0].highlights("body")
        assert "医保卡" in text and "<b" in text


def test_multifield_and_query_classes(ix):
    with ix.searcher() as s:
        q = MultifieldParser(["title", "body"], ix.schema).parse("二月闹")
        assert {h["id"] for h in s.search(q, limit=None)} >= {"cfc1cc326fbca", "c88e3798e5236"}
        medical = {h["id"] for h in s.search(Term("body", "医保"), limit=None)}
        beijing = {h["id"] for h in s.search(Term("body", "北京"), limit=None)}
        both = {h["id"] for h in s.search(And([Term("body", "医保"), Term("body", "北京")]), limit=None)}
        either = {h["id"] for h in s.search(Or([Term("body", "医保"), Term("body", "北京")]), limit=None)}
        without = {h["id"] for h in s.search(And([Term("body", "医保"), Not(Term("body", "北京"))]), limit=None)}
        assert both == medical & beijing and either == medical | beijing and without == medical - beijing
        assert both and without
        prefixed = {h["id"] for h in s.search(Prefix("body", "医"), limit=None)}
        assert medical < prefixed  # 医院, 医生… too
        q = MultifieldParser(["title", "body"], ix.schema, group=OrGroup).parse("北京 医保卡")
        assert len(s.search(q, limit=None)) >= len(medical)


def test_lexicon_and_term_statistics(ix):
    with ix.searcher() as s:
        r = s.reader()
        lexicon = list(s.lexicon("body"))
        assert lexicon == sorted(lexicon) and "医保".encode() in lexicon
        assert r.doc_frequency("body", "医保") == len(s.search(Term("body", "医保"), limit=None))
        assert r.doc_frequency("body", "没有这个词") == 0
        prefixed = [t for t, _ in r.iter_prefix("body", "医保")]
        assert prefixed and all(t.startswith("医保".encode()) for t in prefixed)
        assert ("body", "医保".encode()) in r and ("body", "鳄鱼".encode()) not in r
        assert r.field_length("body") > 0 and r.max_field_length("body") >= r.min_field_length("body")


def test_phrase_through_whoosh_fails_clearly(ix, seeds_search):
    with ix.searcher() as s:
        with pytest.raises(QueryError, match="no positions"):
            s.search(QueryParser("body", ix.schema).parse('"医保 卡"'))
    assert seeds_search.search('"异地就医"').total > 0  # searchkit's own phrases still work


def _search_ids(index_dir: str, query: str) -> list[str]:
    with SearchIndex.open(index_dir) as ix:
        return [h.id for h in ix.search(query, limit=50).hits]


@pytest.mark.parametrize("codec", [SearchkitCodec(), None], ids=["searchkit-codec", "whoosh-default"])
def test_whoosh_writer_changes_are_searched_and_kept(index_copy, seeds_copy, codec):
    gen = current_generation(index_copy)
    wix = whoosh_index.open_dir(gen)
    kw = {"codec": codec} if codec else {}
    w = wix.writer(**kw)
    text = "鳄鱼皮肤病的治疗方法很多"
    w.add_document(id="croc", kind="article", title="鳄鱼皮肤病", title_chars="鳄鱼皮肤病", body=text, chars=text)
    w.update_document(id="croc2", kind="article", title="鳄鱼牙齿", title_chars="鳄鱼牙齿", body="鳄鱼的牙齿",
                      chars="鳄鱼的牙齿")
    w.delete_by_term("id", "cfc1cc326fbca")
    w.commit()
    assert set(_search_ids(index_copy, "鳄鱼")) == {"croc", "croc2"}
    assert "cfc1cc326fbca" not in _search_ids(index_copy, "二月闹")
    r = CliRunner().invoke(main, ["search", "鳄鱼皮肤病", "--index-dir", index_copy])
    assert r.exit_code == 0 and "鳄鱼皮肤病" in r.output
    w = wix.writer(**kw)
    w.commit(optimize=True)
    with wix.searcher() as s:
        assert len(s.search(Term("body", "鳄鱼"))) == 2 and len(list(s.reader().leaf_readers())) == 1
    wix.close()
    assert set(_search_ids(index_copy, "鳄鱼")) == {"croc", "croc2"}
    # A later `searchkit index` of the same sources leaves records that came from no source alone.
    from conftest import SEEDS

    build_index([str(SEEDS)], index_copy)
    assert set(_search_ids(index_copy, "鳄鱼")) == {"croc", "croc2"}


def test_whoosh_index_is_exposed(seeds_search):
    wix = seeds_search.whoosh_index
    with wix.searcher() as s:
        assert s.doc_count() == len(seeds_search)


def test_merged_segments_list_only_terms_with_postings(seeds_copy, tmp_path):
    # Updates replace records; a merge drops the deleted ones and must drop
    # the terms only they held, or Whoosh finds a term with no postings.
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    page = seeds_copy / "000_162322ff5d1d489a.txt"
    text = page.read_text(encoding="utf-8")
    for i, word in enumerate(["鳄鱼", "河马", "企鹅", "袋鼠"]):
        page.write_text(text.replace("\n", f"\n补充:{word}{i}。\n", 1), encoding="utf-8")
        build_index([str(seeds_copy)], idx)
    wix = whoosh_index.open_dir(current_generation(idx))
    with wix.searcher() as s:
        r = s.reader()
        for field in ("body", "chars"):
            assert all(r.doc_frequency(field, t) > 0 for t in r.lexicon(field)), field
        assert len(s.search(Prefix("body", "鳄"))) == 0 and len(s.search(Term("body", "袋鼠"))) == 1
    w = wix.writer(codec=SearchkitCodec())
    w.commit(optimize=True)
    wix.close()
    assert _search_ids(idx, "袋鼠")


def test_documents_written_through_whoosh_keep_exact_lengths(index_copy):
    wix = whoosh_index.open_dir(current_generation(index_copy))
    w = wix.writer(codec=SearchkitCodec())
    w.add_document(id="long", kind="article", title="长", title_chars="长", body="医" * 501, chars="医" * 501)
    w.commit()
    wix.close()
    with SearchIndex.open(index_copy) as ix:
        p = ix._postings
        doc = int(p.docs("id", "long")[0])
        assert p.lengths("chars")[doc] == 1001  # 501 unigrams and 500 bigrams, not W3's one-byte rounding


def test_stored_fields_are_kept_unzipped_and_older_zipped_ones_still_read(seeds_search, tmp_path, monkeypatch):
    """Segments keep stored fields pickled as they are (W3 zlibs each
    document's, slow to undo for little gain on Chinese text); segments of
    an index built before that, which say nothing, are read as W3's."""
    import glob
    import os

    from searchkit import codec
    from searchkit.perdoc import MappedFile

    def stored_bytes(index_dir):
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(index_dir, "*", "*_stored.col")))

    real_init = codec.TextSegment.__init__

    def older(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        del self.raw_stored  # as a segment pickled by an older version

    monkeypatch.setattr(codec.TextSegment, "__init__", older)
    old_dir = str(tmp_path / "old")
    from conftest import SEEDS

    build_index([str(SEEDS)], old_dir)
    monkeypatch.setattr(codec.TextSegment, "__init__", real_init)
    assert 0 < stored_bytes(old_dir) < stored_bytes(seeds_search.index_dir) * 0.8
    with SearchIndex.open(old_dir) as old:
        for query in ("二月闹", "医保卡怎么办", "北京 医保"):
            got, want = old.search(query), seeds_search.search(query)
            assert [(h.id, h.snippet, h.highlights) for h in got.hits] == \
                [(h.id, h.snippet, h.highlights) for h in want.hits]
        # The unzipped column is read from a memory map, the zipped one by seek and read: the same records.
        new_reader = seeds_search._postings.leaves[0][0]._perdoc
        assert isinstance(new_reader._colfiles["_stored"][0], MappedFile)
        assert not isinstance(old._postings.leaves[0][0]._perdoc._colfiles["_stored"][0], MappedFile)
        n = seeds_search._postings.n
        assert n == old._postings.n > 40
        assert all(old._postings.stored(d) == seeds_search._postings.stored(d) for d in range(n))
    ix = whoosh_index.open_dir(current_generation(seeds_search.index_dir))
    with ix.searcher() as s:  # plain Whoosh reads the unzipped ones
        stored = list(s.all_stored_fields())
        assert len(stored) == sum(seeds_search.stats().documents.values())
        for d in stored[:5]:
            assert d["body"] == seeds_search.get(d["id"]).body
    ix.close()
