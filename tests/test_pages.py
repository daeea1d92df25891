from pathlib import Path

from searchkit.pages import ARTICLE, CARD, parse_page
from searchkit.sources import decode, discover, load, merge_records


def _records(paths):
    out = []
    for p in paths:
        sf = load(str(p))
        assert not sf.warnings, sf.warnings
        out += sf.records
    records, repeated = merge_records(out)
    assert repeated == []
    return records


def test_seeds_give_5_articles_and_100_cards(seed_files):
    records = _records(seed_files)
    assert sum(r.kind == ARTICLE for r in records) == 5
    assert sum(r.kind == CARD for r in records) == 100


def test_article_keeps_disclaimer_apart_and_drops_nav(seed_files):
    text = seed_files[0].read_text(encoding="utf-8")
    article = parse_page(text, "p.txt")[0]
    assert article.title == "北京医保卡首次如何使用"
    assert article.disclaimer.startswith("本信息整理自互联网公开渠道")
    assert "提示:本内容不能代替面诊" in article.disclaimer
    for junk in ("本信息整理自", "提示:本内容", "大家都在搜", "相关推荐", "首页 顶部", "健康新闻"):
        assert junk not in article.body
    assert "拨打96102热线" in article.body


def test_sections_follow_headings_and_keep_bullets(seed_files):
    article = parse_page(seed_files[0].read_text(encoding="utf-8"), "p.txt")[0]
    assert {"一、首次参保备案", "1. 线上备案", "五、查询与补卡", "注意事项"} <= set(article.headings)
    daily = next(s for s in article.sections if s.heading == "1. 门诊就医")
    assert daily.text.startswith("• 挂号时出示医保卡")


def test_card_fields(seed_files):
    cards = parse_page(seed_files[0].read_text(encoding="utf-8"), "p.txt")[1:]
    assert len(cards) == 20
    first = cards[0]
    assert first.title == "南京城乡居民保险报销比例是多少"
    assert first.body.startswith("南京城乡居民医疗保险的报销比例")
    assert (first.category, first.date) == ("健康新闻", "2025-03-31")
    assert all(c.date and c.category == "健康新闻" for c in cards)


def test_same_card_on_two_pages_is_one_record_listing_both(seeds_copy):
    page = seeds_copy / "000_162322ff5d1d489a.txt"
    twin = seeds_copy / "twin.txt"
    twin.write_text("另一篇文章\n\n正文。\n相关推荐\n\n" + page.read_text(encoding="utf-8").split("相关推荐", 1)[1],
                    encoding="utf-8")
    records = _records([page, twin])
    cards = [r for r in records if r.kind == CARD]
    assert len(cards) == 20
    assert all(c.sources == sorted([str(page), str(twin)]) for c in cards)


def test_encodings_and_line_ends_parse_the_same(seed_files, tmp_path):
    text = seed_files[1].read_text(encoding="utf-8").replace("•", "·")  # GBK has no bullet
    expected = parse_page(text, "x")
    variants = {
        "crlf.txt": text.replace("\n", "\r\n").encode("utf-8"),
        "bom.txt": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "gbk.txt": text.encode("gbk"),
        "gb18030.txt": text.encode("gb18030"),
    }
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        text, replaced = decode(data)
        assert replaced == 0, name
        got = parse_page(text, "x")
        assert [(r.id, r.title, r.body, r.date) for r in got] == [(r.id, r.title, r.body, r.date) for r in expected], name


def test_pages_without_cards_or_disclaimer(seed_files):
    text = seed_files[2].read_text(encoding="utf-8")
    body_only = text.split("提示:", 1)[0]
    records = parse_page(body_only, "x")
    assert len(records) == 1 and records[0].disclaimer == ""
    assert records[0].title == "职工医保卡首次使用"


def test_page_cut_mid_card_keeps_what_it_had(seed_files):
    text = seed_files[0].read_text(encoding="utf-8")
    cut = text[: text.index("药店刷医保月底怎样结算") + 40]
    records = parse_page(cut, "x")
    cards = records[1:]
    assert [c.title for c in cards][-1] == "药店刷医保月底怎样结算"
    assert cards[-1].date is None and cards[0].date == "2025-03-31"


def test_bad_files_become_warnings(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 \xff\xfe".encode("latin-1"))
    (tmp_path / "notitle.txt").write_text("相关推荐\n\n标题\n\n摘要\n\n健康新闻 2025-01-01\n", encoding="utf-8")
    files, _ = discover([str(tmp_path)])
    reasons = {Path(f).name: [w.reason for w in load(f).warnings] for f in files}
    assert reasons == {"empty.txt": ["skipped: empty file"], "binary.txt": ["skipped: binary file (NUL bytes)"],
                       "notitle.txt": ["skipped: no title line"],
                       "latin1.txt": ["skipped: unknown encoding (neither UTF-8 nor GB18030)"]}


def test_jsonl_good_and_bad_lines(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text("\n".join([
        '{"id": "a1", "title": "高血压能吃党参吗", "text": "高血压病人可以口服党参。", "date": "2025-01-02"}',
        '{"id": "a2", "text": "乳腺增生可以用仪器治疗吗?"}',
        '{"id": "a3", "title": "缺正文"}',
        'not json',
        '{"id": "a4", "text": 5}',
        '{"id": "a5", "text": "日期不对", "date": "yesterday"}',
    ]), encoding="utf-8")
    sf = load(str(f))
    assert [r.id for r in sf.records] == ["a1", "a2"]
    assert sf.records[0].date == "2025-01-02" and sf.records[1].title == ""
    assert [(w.line, w.reason) for w in sf.warnings] == [
        (3, "skipped line: missing 'text' or not a string"),
        (4, "skipped line: Expecting value: line 1 column 1 (char 0)"),
        (5, "skipped line: missing 'text' or not a string"),
        (6, "skipped line: 'date' is not YYYY-MM-DD: 'yesterday'")]
