"""Sources that must not lose data silently: a missing source, pages named
alike in two folders, repeated JSONL ids, a lone surrogate, a stray byte."""

import json

import pytest

from searchkit import SearchIndex
from searchkit.errors import UsageError
from searchkit.indexer import build_index
from searchkit.sources import decode, discover, load

HYPERTENSION = "高血压能吃党参吗\n\n高血压病人可以在医生指导下口服党参，注意监测血压。\n"
DIABETES = "糖尿病人早餐吃什么\n\n糖尿病人早餐宜选粗粮和蛋白质，少吃精米白面。\n"


def _index(idx: str) -> dict[str, tuple[str, str, list[str]]]:
    """Every record of an index: id -> (title, body, sources)."""
    with SearchIndex.open(idx) as ix:
        hits = ix.search("的 OR 吃 OR 病 OR 血 OR 人", limit=1000).hits
        return {h.id: (ix.get(h.id).title, ix.get(h.id).body, h.sources) for h in hits}


def test_a_missing_source_is_an_error_and_leaves_the_index_alone(seeds_copy, tmp_path):
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    with pytest.raises(UsageError, match="no such file or directory: .*pagez"):
        build_index([str(tmp_path / "pagez")], idx)
    with pytest.raises(UsageError):  # one missing among good ones is still an error
        build_index([str(seeds_copy), str(tmp_path / "pagez")], idx, rebuild=True)
    with SearchIndex.open(idx) as ix:
        assert len(ix) == 105
    assert not (tmp_path / "never").exists()
    with pytest.raises(UsageError):
        build_index([str(tmp_path / "pagez")], str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()  # not even an empty index directory


def test_a_string_is_one_source(seeds_copy, tmp_path):
    report = build_index(str(seeds_copy), str(tmp_path / "ix"))
    assert (report.files, report.articles, report.cards) == (5, 5, 100)


def test_pages_with_one_name_in_two_folders_are_two_records(tmp_path):
    (tmp_path / "pages" / "a").mkdir(parents=True)
    (tmp_path / "pages" / "b").mkdir()
    (tmp_path / "pages" / "a" / "page.txt").write_text(HYPERTENSION, encoding="utf-8")
    (tmp_path / "pages" / "b" / "page.txt").write_text(DIABETES, encoding="utf-8")
    (tmp_path / "pages" / "top.txt").write_text(DIABETES.replace("早餐", "午餐"), encoding="utf-8")
    idx = str(tmp_path / "ix")
    report = build_index([str(tmp_path / "pages")], idx)
    assert report.articles == 3 and report.warnings == []
    records = _index(idx)
    assert records["a/page"][0] == "高血压能吃党参吗" and records["b/page"][0] == "糖尿病人早餐吃什么"
    assert "top" in records  # a page at the top of a source keeps its bare name
    with SearchIndex.open(idx) as ix:
        found = {h.id for h in ix.search('"糖尿病"')}
    assert found == {"b/page", "top"}


def test_page_ids_follow_the_path_below_the_source(seeds_copy, seed_files):
    names = discover([str(seeds_copy)])[0]
    assert sorted(names.values()) == sorted(f.name for f in seed_files)
    page = next(iter(names))
    assert load(page, names[page]).records[0].id == seed_files[0].stem  # the seeds' ids are stable


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_repeated_jsonl_ids_are_reported_and_the_winner_is_stable(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _jsonl(src / "1.jsonl", [{"id": "x", "text": "高血压第一版"}, {"id": "y", "text": "感冒发烧"},
                             {"id": "x", "text": "高血压同文件第二版"}])
    _jsonl(src / "2.jsonl", [{"id": "z", "text": "咳嗽"}, {"id": "x", "text": "高血压另一文件版"}])
    idx = str(tmp_path / "ix")
    report = build_index([str(src)], idx)
    repeated = sorted((w.source.rsplit("/", 1)[-1], w.line, w.reason) for w in report.warnings)
    first = f"{src / '1.jsonl'}:1"
    assert repeated == [("1.jsonl", 3, f"skipped: id 'x' is already used by {first}"),
                        ("2.jsonl", 2, f"skipped: id 'x' is already used by {first}")]
    assert _index(idx)["x"][1] == "高血压第一版"
    # An update that re-reads only the second file keeps the same winner,
    # and so does one that re-reads only the first.
    _jsonl(src / "2.jsonl", [{"id": "z", "text": "咳嗽了"}, {"id": "x", "text": "高血压另一文件新版"}])
    update = build_index([str(src)], idx)
    assert update.changed_files == 1 and any(w.line == 2 and "'x'" in w.reason for w in update.warnings)
    assert _index(idx)["x"][1] == "高血压第一版"
    _jsonl(src / "1.jsonl", [{"id": "y", "text": "感冒发烧"}, {"id": "x", "text": "高血压改后版"}])
    build_index([str(src)], idx)
    build_index([str(src)], str(tmp_path / "fresh"))
    assert _index(idx) == _index(str(tmp_path / "fresh"))
    assert _index(idx)["x"][1] == "高血压改后版"


def test_a_lone_surrogate_is_replaced_and_the_rest_indexed(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text('{"id": "a", "text": "高血压\\ud800能吃党参吗"}\n{"id": "b", "text": "糖尿病\\ud83d\\ude00早餐"}\n'
                 '{"id": "c\\udfff", "title": "\\udc00", "text": "感冒病人"}\n', encoding="utf-8")
    report = build_index([str(f)], str(tmp_path / "ix"))
    assert report.articles == 3
    assert [(w.line, w.reason) for w in report.warnings] == [
        (1, "replaced 1 lone surrogate(s) (\\ud800-\\udfff) with U+FFFD"),
        (3, "replaced 2 lone surrogate(s) (\\ud800-\\udfff) with U+FFFD")]
    records = _index(str(tmp_path / "ix"))
    assert records["a"][1] == "高血压\ufffd能吃党参吗" and records["b"][1] == "糖尿病😀早餐"  # a real pair is kept
    assert "c\ufffd" in records


def test_a_utf8_page_with_a_stray_byte_stays_utf8(seed_files, tmp_path):
    data = seed_files[0].read_bytes()
    cut = data.index("拨打96102热线".encode("utf-8"))
    page = tmp_path / "stray.txt"
    page.write_bytes(data[:cut] + b"\xff" + data[cut:])
    text, replaced = decode(page.read_bytes())
    assert replaced == 1 and text == data[:cut].decode("utf-8") + "\ufffd" + data[cut:].decode("utf-8")
    sf = load(str(page))
    line = data[:cut].count(b"\n") + 1
    assert [(w.line, w.reason) for w in sf.warnings] == [
        (line, "read as UTF-8 with 1 invalid byte sequence(s) replaced by U+FFFD (the first on this line)")]
    assert sf.records[0].title == "北京医保卡首次如何使用" and "拨打96102热线" in sf.records[0].body


def test_gbk_pages_still_read_as_gbk(seed_files, tmp_path):
    text = seed_files[1].read_text(encoding="utf-8").replace("•", "·")
    for codec in ("gbk", "gb18030"):
        data = text.encode(codec)
        assert decode(data) == (text, 0)
        # a GBK page short on Chinese is still not read as UTF-8
        short = "标题\n\n正文 abc def ghi jkl mno pqr stu vwx yz 0123456789\n".encode(codec)
        assert decode(short)[0].startswith("标题")
