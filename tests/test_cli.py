import json

import pytest
from click.testing import CliRunner

from searchkit.cli import main
from conftest import SEEDS


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)
    return invoke


def test_search_prints_marked_results_when_piped(run, seeds_index):
    r = run("search", "二月闹", "--index-dir", seeds_index, "--limit", "4")
    assert r.exit_code == 0
    assert r.output.count("[二月闹]") >= 8  # title and snippet of each hit
    assert "\x1b[" not in r.output
    assert "card" in r.output and "2025-03-31" in r.output


def test_search_json(run, seeds_index):
    r = run("search", "北京医保卡首次使用", "--index-dir", seeds_index, "--json", "--limit", "3")
    assert r.exit_code == 0
    assert "北京" in r.output  # Chinese unescaped
    data = json.loads(r.output)
    assert set(data) >= {"query", "total", "hits"}
    hit = data["hits"][0]
    assert set(hit) == {"id", "kind", "title", "score", "date", "category", "sources", "snippet", "highlights",
                        "missing", "partial"}
    assert hit["id"] == "000_162322ff5d1d489a"
    for s, e in hit["highlights"]:
        assert 0 <= s < e <= len(hit["snippet"])


def test_exit_codes(run, seeds_index, tmp_path):
    none = run("search", "鳄鱼", "--index-dir", seeds_index)
    assert none.exit_code == 1 and "no results" in none.output
    missing = run("search", "医保", "--index-dir", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "searchkit index" in missing.output
    bad = run("search", '"医保', "--index-dir", seeds_index)
    assert bad.exit_code == 2 and "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1
    date = run("search", "医保", "--since", "2025-02-30", "--index-dir", seeds_index)
    assert date.exit_code == 2 and "--since" in date.output


def test_show(run, seeds_index):
    r = run("show", "000_162322ff5d1d489a", "--index-dir", seeds_index)
    assert r.exit_code == 0 and r.output.startswith("北京医保卡首次如何使用") and "96102" in r.output
    assert run("show", "nope", "--index-dir", seeds_index).exit_code == 1


def test_index_command_defaults_to_seeds(run, tmp_path, monkeypatch):
    monkeypatch.chdir(SEEDS.parent)
    idx = str(tmp_path / "ix")
    r = run("index", "--index-dir", idx)
    assert r.exit_code == 0
    assert "5 articles and 100 cards" in r.output
    again = run("index", "--index-dir", idx)
    assert "0 new or changed" in again.output


def test_index_warns_and_strict_fails(run, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\x00\x00")
    (tmp_path / "ok.jsonl").write_text('{"id": "1", "text": "感冒发烧怎么办"}\n', encoding="utf-8")
    r = run("index", str(tmp_path), "--index-dir", str(tmp_path / "ix"))
    assert r.exit_code == 0 and "binary" in r.output and "1 skipped" in r.output
    strict = run("index", str(tmp_path), "--index-dir", str(tmp_path / "ix2"), "--strict")
    assert strict.exit_code == 2


def test_env_var_names_the_index(run, seeds_index, monkeypatch):
    monkeypatch.setenv("SEARCHKIT_INDEX", seeds_index)
    assert run("search", "二月闹").exit_code == 0


def _clean(r, code):
    """The exact exit code, and no traceback."""
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r


def test_a_mistyped_source_fails_and_keeps_the_index(run, seeds_index, tmp_path):
    idx = str(tmp_path / "ix")
    _clean(run("index", str(SEEDS), "--index-dir", idx), 0)
    r = _clean(run("index", str(tmp_path / "mypagez"), "--index-dir", idx), 2)
    assert r.stderr == f"searchkit: no such file or directory: {tmp_path / 'mypagez'} (nothing was indexed)\n"
    assert "105" in _clean(run("stats", "--index-dir", idx), 0).stdout


def test_a_page_past_the_last_says_so(run, seeds_index, seeds_search):
    found = seeds_search.search("医保")
    last = -(-(found.total + found.partial) // 5)  # partial matches are listed after the others
    r = _clean(run("search", "医保", "--index-dir", seeds_index, "-n", "5", "--page", str(last)), 0)
    assert f"showing {5 * last - 4}-" in r.stdout
    r = _clean(run("search", "医保", "--index-dir", seeds_index, "-n", "5", "--page", str(last + 1)), 2)
    assert r.stderr.startswith(f"searchkit: page {last + 1} is past the last page ({last}) of ")
    assert _clean(run("search", "鳄鱼", "--index-dir", seeds_index, "--page", "3"), 1).stderr == \
        "searchkit: no results for '鳄鱼'\n"


def test_eval_refuses_judgments_of_another_corpus(run, seeds_index, tmp_path):
    queries, qrels = tmp_path / "q.tsv", tmp_path / "qrels.tsv"
    queries.write_text("q1\t北京医保卡首次使用\nq2\t二月闹\n", encoding="utf-8")
    qrels.write_text("q1\t000_162322ff5d1d489a\t2\nq2\tcfc1cc326fbca\t1\n", encoding="utf-8")
    r = _clean(run("eval", str(queries), str(qrels), "--index-dir", seeds_index), 0)
    assert "queries     2" in r.stdout and r.stderr == ""
    qrels.write_text("q1\t000_162322ff5d1d489a\t2\nq1\td0002c98d5971\t1\nq2\td000604026cff\t1\n", encoding="utf-8")
    r = _clean(run("eval", str(queries), str(qrels), "--index-dir", seeds_index), 2)
    assert r.stdout == "" and "2 of the 3 judged-relevant ids in QRELS are not in the index" in r.stderr
    qrels.write_text("q1\t000_162322ff5d1d489a\t2\nq2\tcfc1cc326fbca\t1\nq2\td000604026cff\t1\n", encoding="utf-8")
    r = _clean(run("eval", str(queries), str(qrels), "--index-dir", seeds_index), 0)
    assert r.stderr == "searchkit: warning: 1 of the 3 judged-relevant ids are not in the index\n"
    qrels.write_text("q1\t000_162322ff5d1d489a\t2\nq2\tcfc1cc326fbca\thigh\n", encoding="utf-8")
    r = _clean(run("eval", str(queries), str(qrels), "--index-dir", seeds_index), 2)
    assert r.stderr == f"searchkit: {qrels}:2: relevance must be an integer, not 'high'\n"


def test_quiet_after_the_query_is_an_option(run, seeds_index):
    loud = _clean(run("search", "yibao", "--index-dir", seeds_index, "-n", "2"), 0)
    quiet = _clean(run("search", "yibao", "--index-dir", seeds_index, "-n", "2", "-q"), 0)
    assert "read as pinyin: 医保" in loud.stderr and quiet.stderr == ""
    assert quiet.stdout == loud.stdout and "'yibao'" in quiet.stdout  # not 'yibao -q'
    excluded = _clean(run("search", "医保", "-北京", "--index-dir", seeds_index, "-n", "100"), 0)
    assert "'医保 -北京'" in excluded.stdout


def test_suggest_says_why_it_printed_nothing(run, seeds_index):
    r = _clean(run("suggest", "", "--index-dir", seeds_index), 2)
    assert r.stderr.startswith("searchkit: an empty prefix completes nothing")
    r = _clean(run("suggest", "zzzz", "--index-dir", seeds_index), 1)
    assert r.stdout == "" and r.stderr == "searchkit: no completions for 'zzzz'\n"


def _cells(text):
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@pytest.mark.parametrize("columns", [30, 40, 54, 60, 80, 120])
def test_headlines_fit_columns_with_wide_characters(run, seeds_index, monkeypatch, columns):
    """Every line but the snippet (two lines' worth by design) fits the
    terminal; where the facts would leave a headline under 16 columns they
    take a line of their own."""
    monkeypatch.setenv("COLUMNS", str(columns))
    r = _clean(run("search", "医保", "--index-dir", seeds_index, "-n", "30"), 0)
    lines = r.stdout.splitlines()
    heads = [line for line in lines if line[:4].strip().rstrip(".").isdigit()]
    assert len(heads) == 30
    from searchkit import SearchIndex
    from searchkit.render import Style, format_hit

    with SearchIndex.open(seeds_index) as ix:  # from rank 100 the rank takes a column more
        hit = ix.search("医保").hits[0]
    hit.headline = hit.headline * 8  # long enough to be cut at any width
    for width in (columns, columns + 1):  # odd widths too: wide characters can leave a column spare
        assert all(_cells(line) <= width for line in format_hit(100, hit, Style.for_stream(False), width).splitlines()
                   if not line.startswith("    …"))
    fitted = [line for line in lines if (line in heads or line.startswith("    ")) and not line.startswith("    …")]
    assert all(_cells(line) <= columns for line in fitted), [line for line in fitted if _cells(line) > columns]
    facts = [line for line in lines if "(article" in line or "(card" in line]
    assert len(facts) == 30 and (columns < 54 or any("健康新闻" in line for line in facts))
    if columns <= 40 or columns == 120:  # the facts (22-44 columns) on their own line, or all beside the headline
        assert all(("score " in h) == (columns == 120) for h in heads)
    assert all(len(h.strip()) > 8 for h in heads)  # each headline keeps room to be read


def test_untitled_records_show_the_start_of_their_body(run, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "u1", "text": "糖尿病人早餐吃什么好？粗粮和鸡蛋都可以。"}\n', encoding="utf-8")
    _clean(run("index", str(docs), "--index-dir", str(tmp_path / "ix")), 0)
    r = _clean(run("search", "鸡蛋", "--index-dir", str(tmp_path / "ix")), 0)
    assert r.stdout.startswith(" 1. 糖尿病人早餐吃什么好？粗粮和[鸡蛋]都可以。  (article, score ")


def test_a_closed_pipe_ends_quietly(seeds_index):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "searchkit", "search", "医保", "-n", "100", "--index-dir",
                             seeds_index], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first result is written, as with `| head -0`
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""


def test_repeated_facets_are_ored(run, seeds_index, seeds_search):
    counts = seeds_search.search("医保", facets={}).facets["city"]
    r = _clean(run("search", "医保", "--index-dir", seeds_index, "--facet", "city=北京", "--facet", "city=南京",
                   "--json", "-n", "100"), 0)
    data = json.loads(r.stdout)
    assert data["total"] == counts["北京"] + counts["南京"]
    assert {c for h in data["hits"] for c in ("北京", "南京") if c in h["title"]} == {"北京", "南京"}


def test_ctrl_c_while_the_command_loads_is_one_line(monkeypatch, capsys):
    """The console script catches Ctrl-C while it imports the command's
    modules, before the CLI's own handler exists."""
    import builtins
    import sys

    from searchkit import _entry

    real = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "cli":  # `from .cli import main`
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "searchkit.cli", raising=False)
    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as e:
        _entry.main()
    assert e.value.code == 130 and capsys.readouterr().err == "searchkit: interrupted\n"
