"""Relevance on the real dev judgments (KUAKE-QTR): a regression floor a
little below what the ranking reaches, so a change that hurts ranking fails."""

import dataclasses
import json
from importlib import resources

import pytest

from searchkit import Ranking, SearchIndex
from searchkit.evaluate import evaluate, read_qrels, read_queries
from searchkit.indexer import build_index
from conftest import shared_path, true_top_completions


@pytest.fixture(scope="module")
def dev_index(tmp_path_factory) -> str:
    idx = str(tmp_path_factory.mktemp("dev") / "index")
    build_index([str(shared_path("corpus", "corpus.jsonl"))], idx)
    return idx


def _evaluate(index_dir: str, ranking: Ranking | None = None, rerank: bool = True):
    queries = read_queries(str(shared_path("corpus", "queries_dev.tsv")))
    qrels = read_qrels(str(shared_path("corpus", "qrels_dev.tsv")))
    with SearchIndex.open(index_dir, ranking, rerank) as ix:
        return evaluate(ix, queries, qrels)


@pytest.fixture(scope="module")
def dev(dev_index):
    return _evaluate(dev_index)


def test_dev_relevance_floor(dev):
    assert dev.queries == 500
    # Reached with the learned weights, partial matches last and the learned reranker:
    # 0.8944 / 0.9186 / 0.9850 (refits on LightGBM seeds 2 and 3: 0.8974 / 0.9232, 0.8947 / 0.9184);
    # floors ~0.005 below the shipped fit (refits of the reranker have moved dev by ±0.003).
    assert dev.ndcg10 >= 0.889, dev.ndcg10
    assert dev.mrr10 >= 0.913, dev.mrr10
    assert dev.recall100 >= 0.98, dev.recall100


def test_focus_ranks_titles_about_the_query_alone_higher(dev, dev_index):
    # Both titles hold the whole query; the second one says much else besides.
    # Focus is part of the first stage: measured without the reranker, which sees the same.
    with SearchIndex.open(dev_index, rerank=False) as ix:
        first = [h.snippet for h in ix.search("胳膊肘起皮", limit=2).hits]
    with SearchIndex.open(dev_index, Ranking(focus=0), rerank=False) as ix:
        unfocused = [h.snippet for h in ix.search("胳膊肘起皮", limit=2).hits]
    assert first[0] == "胳膊肘起皮还痒" and unfocused[0].startswith("胳膊肘起皮搔痒 32岁")
    # ... and on the judgments as a whole it helps the first stage, or it should go.
    assert _evaluate(dev_index, rerank=False).ndcg10 > _evaluate(dev_index, Ranking(focus=0), rerank=False).ndcg10
    with SearchIndex.open(dev_index) as ix:  # the reranker keeps that order
        assert ix.search("胳膊肘起皮", limit=1).hits[0].snippet == "胳膊肘起皮还痒"


def test_cli_eval(dev, tmp_path):
    from click.testing import CliRunner

    from searchkit.cli import main

    corpus = shared_path("corpus", "corpus.jsonl")
    # A small slice keeps this fast: the command, not the numbers, is under test here.
    small = tmp_path / "small.jsonl"
    lines = open(corpus, encoding="utf-8").readlines()[:2000]
    small.write_text("".join(lines), encoding="utf-8")
    build_index([str(small)], str(tmp_path / "ix"))
    # ... judged on the documents of the slice only: most of the dev judgments
    # name documents outside it, and eval refuses to score such an index.
    ids = {json.loads(line)["id"] for line in lines}
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("".join(line for line in open(shared_path("corpus", "qrels_dev.tsv"), encoding="utf-8")
                             if line.split("\t")[1] in ids), encoding="utf-8")
    args = ["eval", str(shared_path("corpus", "queries_dev.tsv")), str(qrels), "--index-dir", str(tmp_path / "ix"),
            "--per-query", "--worst", "3"]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "nDCG@10" in r.stdout and "worst queries" in r.stdout and "Traceback" not in r.stderr
    args[2] = str(shared_path("corpus", "qrels_dev.tsv"))
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 2 and "not in the index" in r.stderr and "Traceback" not in r.stderr


def test_cli_eval_no_rerank_scores_the_first_stage(dev, dev_index):
    from click.testing import CliRunner

    from searchkit.cli import main

    args = ["eval", str(shared_path("corpus", "queries_dev.tsv")), str(shared_path("corpus", "qrels_dev.tsv")),
            "--index-dir", dev_index, "--json"]
    r = CliRunner().invoke(main, args + ["--no-rerank"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    first_stage = _evaluate(dev_index, rerank=False)
    assert json.loads(r.stdout)["ndcg@10"] == first_stage.ndcg10 != dev.ndcg10


def test_autocomplete_finds_the_most_frequent_word_for_any_prefix(dev_index):
    with SearchIndex.open(dev_index) as ix:
        assert [s.text for s in ix.suggest("y", limit=3)][0] == "原因"  # 1,258 records; was missed
        assert [s.text for s in ix.suggest("b", limit=3)][0] == "宝宝"
        vocab = ix.vocabulary
        firsts = sorted({w[0] for w in vocab.words}, key=lambda c: -sum(w[0] == c for w in vocab.words))[:20]
        for prefix in [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["yy", "bb", "zh"] + firsts:
            assert [s.text for s in ix.suggest(prefix, limit=10)] == true_top_completions(vocab, prefix, 10), prefix


def test_default_ranking_is_the_shipped_learned_weights(dev_index):
    shipped = json.loads(resources.files("searchkit").joinpath("data", "ranking.json").read_text(encoding="utf-8"))
    assert dataclasses.asdict(Ranking()) == shipped["weights"]
    with SearchIndex.open(dev_index) as ix:
        assert ix.ranking == Ranking()
    # A weight passed in still overrides the shipped one, and only that one.
    assert dataclasses.asdict(Ranking(focus=0)) == {**shipped["weights"], "focus": 0}
