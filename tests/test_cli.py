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
    assert set(hit) == {"id", "kind", "title", "score", "date", "category", "sources", "snippet", "highlights"}
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
