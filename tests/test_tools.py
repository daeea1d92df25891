"""The training tools (tools/): synonym mining, ranking weight and reranker
fitting on the team's judged queries, character vectors from unlabelled text."""

import dataclasses
import json
import sys

import pytest

from searchkit import Ranking, SearchIndex
from searchkit.indexer import build_index
from conftest import ROOT, shared_path

sys.path.insert(0, str(ROOT / "tools"))

import mine_synonyms  # noqa: E402
import train_ranking  # noqa: E402
import translations  # noqa: E402


def test_substitution_is_the_one_word_a_relevant_title_has_instead():
    assert mine_synonyms.substitution("牙齿发青是怎么回事", "牙齿发青是什么原因") == ("什么原因", "怎么回事")
    # Words only the title has at its end are allowed; a reordered title is no substitution.
    assert mine_synonyms.substitution("胃疼吃什么药", "胃痛吃什么药最好") == ("胃疼", "胃痛")
    assert mine_synonyms.substitution("小孩发烧吃小儿柴桂吗", "小儿柴桂退热颗粒发烧多少度可以吃") is None
    # A word inside the other one is no candidate: characters already match it.
    assert mine_synonyms.substitution("小孩发烧", "小孩子发烧") is None


def test_mined_candidates_count_support_and_mark_shipped_groups(capsys):
    corpus = shared_path("corpus")
    assert mine_synonyms.main(["--corpus", str(corpus)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    by_pair = {(r[2], r[3]): r for r in rows}
    support, against, _, _, already, example = by_pair[("可以", "能")]
    assert int(support) >= 30 and int(against) == 0 and already == "yes" and " / " in example
    assert all(int(r[0]) >= 2 for r in rows)


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory) -> str:
    idx = str(tmp_path_factory.mktemp("corpus") / "index")
    build_index([str(shared_path("corpus", "corpus.jsonl"))], idx)
    return idx


def test_fit_never_scores_below_its_start(corpus_index):
    train, qrels = train_ranking.load(str(shared_path("corpus")), "train")
    items = train_ranking.sample(train, 40, seed=1)
    start = Ranking(**train_ranking.START)
    with SearchIndex.open(corpus_index) as ix:
        fitted = train_ranking.fit(ix, items, qrels, start)
        assert train_ranking.objective(ix, fitted, items, qrels) >= train_ranking.objective(ix, start, items, qrels)
    # Only the weights the corpus can teach move.
    for name, value in train_ranking.START.items():
        if name not in train_ranking.TRAINED:
            assert getattr(fitted, name) == value


def test_train_ranking_writes_weights_ranking_accepts(corpus_index, tmp_path):
    out = tmp_path / "ranking.json"
    assert train_ranking.main(["--corpus", str(shared_path("corpus")), "--index-dir", corpus_index,
                               "--sample", "20", "--no-cv", "--out", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc["weights"]) == {f.name for f in dataclasses.fields(Ranking)}
    Ranking(**doc["weights"])
    assert len(doc["metrics"]["dev_after"]) == 3


def test_translations_lift_pairs_that_went_with_relevance():
    # 孩 lacked, 儿 held: relevant 6 of 6 times; 孩 lacked, 痛 held: 0 of 6; six distinct headlines each
    # (the digits tell them apart). The rest of the cases set the rate.
    windows = [(("小", "孩", "发", "烧"), [(f"小儿发烧{i}", True), (f"小腿痛{i}", False)]) for i in range(6)]
    windows += [(("头", "晕"), [("头疼", False), ("眩晕", False)]) for _ in range(30)]
    table = translations.mine(windows)
    assert table.pairs["孩"]["儿"] > 0 > table.pairs["孩"]["痛"] and "小" not in table.pairs  # 小 was never lacked
    assert all(b not in "小孩发烧" for b in table.pairs["孩"])  # a query's own characters are no translation
    # Added characters: 儿 went with relevance 6 of 6 times, 痛 never; 发 was always the query's own.
    assert table.added["儿"] > 0 > table.added["痛"] and "发" not in table.added
    # Lacked query characters: 孩 went with relevance half the time, 烧 never; 小 was never lacked.
    assert table.lacked["孩"] > 0 > table.lacked["烧"] and "小" not in table.lacked
    # 头疼 was judged 30 times, but it is one headline: its judgments make no lift (a prior of one document).
    assert "疼" not in table.added and "眩" not in table.added and "晕" not in table.pairs
    assert "晕" not in table.lacked and "头" not in table.lacked


def test_a_headline_judged_in_many_windows_counts_once_towards_a_lift():
    # 小儿0 was judged relevant in 10 windows, four other headlines adding 儿 irrelevant once each:
    # by cases 儿 went with relevance (10 of 14), by headlines it did not (1 of 5), against a rate of
    # about 0.6 (the 头晕 headlines add nothing to their query).
    windows = [(("小", "孩"), [("小儿0", True)]) for _ in range(10)]
    windows += [(("小", "孩"), [(f"小儿{i}", False)]) for i in range(1, 5)]
    windows += [(("头", "晕"), [(f"头晕{i}", i % 2 == 0)]) for i in range(20)]
    assert translations.mine(windows).added["儿"] < 0


def test_train_rows_read_translations_mined_without_their_own_fold(monkeypatch):
    """Cross-fitting: a train row's features read through the mined table
    (``translated``, ``added_down``, ``added_up``, ``lacked``) come from a table mined
    without its own fold (and, in cross-validation, without the held-out
    fold), or the table would tell the trees the row's label."""
    import types

    import numpy as np
    import train_rerank

    # Each window says its fold; a "table" is the set of folds mined, and a row's value says which it read.
    monkeypatch.setattr(train_rerank, "mine", lambda windows: frozenset(int(chars[0]) for chars, _ in windows))
    monkeypatch.setattr(train_rerank, "window_chars", lambda heads: heads)
    monkeypatch.setattr(train_rerank, "held_idf", lambda profile, heads: None)
    monkeypatch.setattr(train_rerank, "lifted", lambda profile, heads, folds, held:
                        np.full((len(heads), len(train_rerank.LIFTED_COLUMNS)), float(sum(1 << f for f in folds))))
    folds = np.array([0, 1, 2, 3, 4] * 3)
    windows = [(types.SimpleNamespace(chars=(str(f),)), [types.SimpleNamespace(text="头晕")] * 2) for f in folds]
    groups = np.full(folds.size, 2)
    x = np.full((groups.sum(), len(train_rerank.FEATURES)), -1.0)
    cross = train_rerank.CrossFit(x, np.ones(groups.sum()), groups, windows, folds)
    every = (1 << train_rerank.FOLDS) - 1
    columns = train_rerank.LIFTED_COLUMNS
    read = cross.rows()[:, columns].reshape(-1, 2, len(columns))[:, 0]
    assert read.tolist() == [[every & ~(1 << f)] * len(columns) for f in folds]
    for k in range(train_rerank.FOLDS):
        read = cross.rows(held_out=k)[:, columns].reshape(-1, 2, len(columns))[:, 0]
        assert read.tolist() == [[-1.0 if f == k else every & ~(1 << f) & ~(1 << k)] * len(columns) for f in folds]
        assert cross.table(k) == frozenset(range(train_rerank.FOLDS)) - {k}  # what fold k is searched with
    assert cross.table() == frozenset(range(train_rerank.FOLDS))  # the table that ships


def test_train_rerank_writes_a_model_search_walks_like_lightgbm(corpus_index, tmp_path):
    import train_rerank

    from searchkit.rerank import FEATURES, Reranker, Trees, load_model

    out, table = tmp_path / "rerank.json", tmp_path / "translations.txt"
    # The tool itself checks that NumPy walks the exported trees as LightGBM predicts.
    assert train_rerank.main(["--corpus", str(shared_path("corpus")), "--index-dir", corpus_index,
                              "--sample", "150", "--no-cv", "--out", str(out), "--translations", str(table)]) == 0
    rows = [line.split() for line in table.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert len(rows) > 50 and all(len(row) >= 2 for row in rows)
    assert [row[0] for row in rows if row[0] in "+-"] == ["+", "-"]  # the added and the lacked characters' lines
    model = load_model(out.read_text(encoding="utf-8"))
    assert isinstance(model, Reranker) and isinstance(model.trees, Trees) and model.window == train_rerank.WINDOW
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["features"] == list(FEATURES) and len(doc["metrics"]["dev_after"]) == 3
    assert len(doc["trees"]["value"]) == train_rerank.ROUNDS


def test_train_char_vectors_writes_unit_vectors_of_frequent_characters(tmp_path):
    import numpy as np
    import train_char_vectors

    out = tmp_path / "chars.npz"
    assert train_char_vectors.main([str(shared_path("corpus", "corpus.jsonl")), "--out", str(out)]) == 0
    z = np.load(out)
    chars, vectors = z["chars"].tolist(), z["vectors"].astype(np.float32)
    assert len(set(chars)) == len(chars) > 1000 and vectors.shape == (len(chars), train_char_vectors.DIM)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
    close = lambda a, b: float(vectors[chars.index(a)] @ vectors[chars.index(b)])  # noqa: E731
    assert close("疼", "痛") > close("疼", "猫")
