"""The learned reranker (searchkit.rerank): how its trees are walked, what
it may reorder, and that its features see text, never identities."""

import numpy as np
import pytest

from searchkit import SearchIndex
from searchkit.query import parse_query
from searchkit.lifts import LIFTED, Translations, lifted, translations
from searchkit.rerank import FEATURES, Trees, char_vectors, headline, held_idf, query_profile, shipped, window_chars
from conftest import index_of_texts

# Real titles of the shared KUAKE corpus, about one complaint.
TITLES = ["突然头晕是怎么回事", "老是突然头晕怎么回事啊", "头晕恶心想吐怎么办", "头晕吃什么药好",
          "突然眩晕是怎么回事", "早上起床头晕是什么原因", "头晕是颈椎病引起的吗", "孕妇头晕怎么办",
          "8岁孩子总是说头晕是怎么回事"]


def test_trees_are_walked_from_the_root_to_a_leaf_and_summed():
    model = Trees({"depth": 2,
                   # Tree 0 splits on feature 0, then on feature 1 (left) or never again (right);
                   # tree 1 is a padding split (always left) over a split on feature 1.
                   "feature": [[0, 1, 0], [0, 1, 0]],
                   "threshold": [[0.5, 2.0, 1e300], [1e300, 1.0, 1e300]],
                   "value": [[1.0, 2.0, 3.0, 3.0], [10.0, 20.0, 0.0, 0.0]]})
    x = np.array([[0.0, 1.0], [0.0, 5.0], [0.9, 0.0], [0.5, 2.0]])
    assert model.predict(x).tolist() == [1.0 + 10.0, 2.0 + 20.0, 3.0 + 10.0, 1.0 + 20.0]


def test_the_shipped_model_uses_the_features_search_computes():
    model = shipped()
    assert model.window >= 10 and model.trees.feature.max() < len(FEATURES)


def test_reranking_reorders_only_the_best_full_matches(seeds_index):
    query = "看病忘带医保卡怎么办"
    with SearchIndex.open(seeds_index, rerank=False) as plain, SearchIndex.open(seeds_index) as ranked:
        before = plain.search(query, limit=100, snippets=False)
        after = ranked.search(query, limit=100, snippets=False)
        window = ranked.reranker.window
    assert before.total == after.total > 2 and before.partial == after.partial
    # The same documents lead; partial matches stay after every full match, in their order.
    full = min(window, before.total)
    assert {h.id for h in before.hits[:full]} == {h.id for h in after.hits[:full]}
    assert [h.id for h in before.hits[full:]] == [h.id for h in after.hits[full:]]
    assert all(h.partial for h in after.hits[after.total:]) and not any(h.partial for h in after.hits[:after.total])
    # Scores are traded, not invented: the same values, still falling down the full matches.
    assert sorted(h.score for h in before.hits) == sorted(h.score for h in after.hits)
    scores = [h.score for h in after.hits[:after.total]]
    assert scores == sorted(scores, reverse=True)


def _rows(tmp_path, name: str, ids: list[str], order: list[int]) -> dict[str, list[float]]:
    """Feature rows by headline, for 头晕怎么回事 on an index of TITLES
    stored under ``ids`` in ``order``."""
    with SearchIndex.open(index_of_texts(tmp_path / name, [TITLES[i] for i in order], [ids[i] for i in order])) as ix:
        clauses = parse_query("头晕怎么回事")
        scores, matched = ix._rank(clauses)
        docs = np.flatnonzero(matched)
        rows = ix.reranker.rows_of(ix._postings, clauses, docs, scores[docs])
        return {ix._postings.stored(int(d))["body"]: row.tolist() for d, row in zip(docs, rows)}


def test_features_describe_text_not_which_document_it_is(tmp_path):
    n = len(TITLES)
    first = _rows(tmp_path, "a", [f"d{i}" for i in range(n)], list(range(n)))
    second = _rows(tmp_path, "b", [f"other-{i * 7919}" for i in range(n)], list(reversed(range(n))))
    assert first.keys() == second.keys() and len(first) >= 6
    assert all(np.allclose(first[t], second[t]) for t in first)
    # The title that is the query's complaint and question, and asks nothing else, covers it all.
    best = first["突然头晕是怎么回事"]
    assert best[FEATURES.index("query_chars")] == pytest.approx(1.0) and best[FEATURES.index("kinds_both")] == 1.0
    assert best[FEATURES.index("near_missing")] == 1.0  # it lacks no query character
    # 突然眩晕是怎么回事 lacks 头 of 头晕: how close its nearest character comes, below an exact match.
    assert 0.0 < first["突然眩晕是怎么回事"][FEATURES.index("near_missing")] < 1.0
    # It spells the query out in order: 头晕怎么回事 is 6 of its 9 characters; 头晕恶心想吐怎么办 has 头晕怎么 of it.
    assert best[FEATURES.index("subsequence")] == pytest.approx(6 / 9)
    assert first["头晕恶心想吐怎么办"][FEATURES.index("subsequence")] == pytest.approx(4 / 9)
    # The digit is the only letter or digit a headline holds beyond the query.
    assert first["8岁孩子总是说头晕是怎么回事"][FEATURES.index("extra_symbols")] == 1.0
    assert best[FEATURES.index("extra_symbols")] == 0.0


def test_character_vectors_put_characters_used_alike_close():
    at, vectors = char_vectors()
    cosine = lambda a, b: float(vectors[at[a]] @ vectors[at[b]])  # noqa: E731
    assert cosine("疼", "痛") > 0.6 > 0.2 > cosine("疼", "猫")
    assert cosine("肚", "腹") > 0.3 > cosine("肚", "猫")
    assert np.all(np.linalg.norm(vectors, axis=1) <= 1.0 + 1e-3)


def _window_by_definition(q, heads) -> list[list[float]]:
    """``query_chars``, ``first`` and ``near_missing`` as their docstrings
    define them, in plain loops over each headline's characters."""
    at, vectors = char_vectors()
    total = float(q.char_idf.sum())
    out = []
    for h in heads:
        held = [h.weights.get(ch, 0.0) for ch in q.chars]
        han = [c for c in h.text if not c.isascii() and len(c) == 1]
        firsts = [han.index(ch) for ch in q.chars if ch in h.weights]
        first = min(firsts, default=len(han)) / max(len(han), 1)
        mine = [at[b] for b in h.weights if b in at]
        lacked = [(w, at[ch]) for ch, w, got in zip(q.chars, q.char_idf, held) if ch in at and not got]
        if not any(ch in at for ch in q.chars):
            near = 0.0
        elif not lacked:
            near = float(bool(mine))
        else:
            nearest = [max((float(vectors[r] @ vectors[b]) for b in mine), default=0.0) for _, r in lacked]
            near = sum(w * c for (w, _), c in zip(lacked, nearest)) / sum(w for w, _ in lacked)
        out.append([sum(w for w, got in zip(q.char_idf, held) if got) / total if total else 0.0, first, near])
    return out


def test_window_features_are_their_definitions_read_as_arrays(tmp_path):
    # No Han character (hpv 16), one past the Basic Multilingual Plane (𠮷), punctuation, repeats.
    index_dir = index_of_texts(tmp_path, TITLES + ["小儿眩晕、呕吐", "头痛头胀", "hpv 16", "𠮷祥头晕头晕", "孩子发烧"])
    columns = [FEATURES.index(f) for f in ("query_chars", "first", "near_missing")]
    checked = 0
    with SearchIndex.open(index_dir) as ix:
        for query in ["突然头晕、恶心", "小孩头疼", "𠮷头晕", "hpv", "眩晕呕吐怎么办", "孩子发烧头痛"]:
            clauses = parse_query(query)
            scores, matched = ix._rank(clauses)
            docs = np.flatnonzero(matched)
            q = query_profile(ix._postings, clauses)
            heads = [headline(ix._postings, int(d)) for d in docs]
            got = ix.reranker.rows_of(ix._postings, clauses, docs, scores[docs])[:, columns]
            assert np.allclose(got, _window_by_definition(q, heads), atol=1e-6)
            assert held_idf(q, window_chars(heads)).tolist() == [[h.weights.get(ch, 0.0) for ch in q.chars]
                                                                 for h in heads]
            checked += int(np.count_nonzero((got[:, 2] > 0) & (got[:, 2] < 1)))
    assert checked >= 3  # headlines lacking a query character, with a near stand-in for it


def _feature_of_each(tmp_path, titles: list[str], query: str, feature: str) -> dict[str, float]:
    """Each title's value of ``feature`` for ``query``, as search computes it."""
    with SearchIndex.open(index_of_texts(tmp_path, titles)) as ix:
        clauses = parse_query(query)
        scores, matched = ix._rank(clauses)
        docs = np.flatnonzero(matched)
        rows = ix.reranker.rows_of(ix._postings, clauses, docs, scores[docs])
        return {ix._postings.stored(int(d))["body"]: row[FEATURES.index(feature)] for d, row in zip(docs, rows)}


def test_translated_reads_what_a_headline_holds_in_place_of_a_lacked_character(tmp_path):
    # Real titles of the shared KUAKE corpus; 小孩发烧流鼻血 is a query of its kind.
    titles = ["小儿发烧流鼻血", "小孩发烧、流鼻血怎么办？", "小孩发烧后出小红点"]
    got = _feature_of_each(tmp_path, titles, "小孩发烧流鼻血", "translated")
    # 小儿… lacks only 孩, and holds 儿 for it: the feature is that pair's lift, which the train judgments made high.
    lift = translations().pairs["孩"]["儿"]
    assert got["小儿发烧流鼻血"] == pytest.approx(lift) and lift > 0.5
    assert got["小孩发烧、流鼻血怎么办？"] == 0.0  # it lacks no query character
    # The shipped table is a relation of characters: small, and never a character onto itself.
    table = translations().pairs
    assert 500 < len(table) < 5000 and all(a not in row and len(row) <= 20 for a, row in table.items())


def _translated_by_definition(q, heads, pairs: dict) -> list[float]:
    """``translated`` as its docstring defines it, in plain loops."""
    out = []
    for h in heads:
        total = got = 0.0
        for ch, weight in zip(q.chars, q.char_idf):
            if ch not in h.weights:
                lifts = [v for b, v in pairs.get(ch, {}).items() if b in h.weights and b not in q.chars]
                total += weight
                got += weight * (max(lifts) if lifts else 0.0)
        out.append(got / total if total else 0.0)
    return out


def test_translated_is_its_definition_read_as_a_matrix(tmp_path):
    index_dir = index_of_texts(tmp_path, TITLES + ["小儿眩晕、呕吐", "头痛头胀", "hpv阳性", "孩子发烧"])
    # Negative lifts, a query's own character as a target, a character none holds, punctuation.
    crafted = {"晕": {"眩": 1.5, "痛": -0.7, "头": 3.0, "胀": -0.2}, "孩": {"儿": 1.2, "子": 2.0},
               "疼": {"痛": 0.9}, "突": {"、": 5.0, "呕": -1.0}, "然": {"吐": -0.3, "呕": -0.1}}
    tables = [translations(), Translations(crafted), Translations({})]
    checked = 0
    with SearchIndex.open(index_dir) as ix:
        for query in ["突然头晕、恶心", "小孩头疼", "孩子头晕想吐", "hpv", "头晕", "眩晕呕吐怎么办"]:
            clauses = parse_query(query)
            scores, matched = ix._rank(clauses)
            q = query_profile(ix._postings, clauses)
            assert "、" not in q.chars  # punctuation is no character a headline can hold
            heads = [headline(ix._postings, int(d)) for d in np.flatnonzero(matched)]
            for table in tables:
                chars = window_chars(heads)
                got = lifted(q, chars, table, held_idf(q, chars))[:, LIFTED.index("translated")]
                assert got.tolist() == pytest.approx(_translated_by_definition(q, heads, table.pairs), abs=1e-12)
                checked += int(np.count_nonzero(got))
    # The crafted table's lifts, negative ones included, reached real headlines.
    assert checked > 10



def _added_and_lacked_by_definition(q, heads, table: Translations) -> list[list[float]]:
    """``added_down``, ``added_up`` and ``lacked`` as :func:`added` and
    :func:`lifted` define them, in plain loops."""
    out = []
    for h in heads:
        got = [table.added.get(b, 0.0) for b in h.weights if b not in q.chars]
        lacks = [table.lacked.get(a, 0.0) for a in q.chars if a not in h.weights]
        out.append([sum(v for v in got if v < 0), sum(v for v in got if v > 0), sum(lacks)])
    return out


def test_added_and_lacked_are_their_definitions(tmp_path):
    # A headline with no Han character among others (hpv 16), and one past the Basic Multilingual Plane (𠮷).
    index_dir = index_of_texts(tmp_path, TITLES + ["糖尿病人头晕怎么办", "头痛头胀", "hpv阳性", "hpv 16", "孩子发烧",
                                                   "𠮷祥头晕"])
    # Lifts of either sign, on a query's own character (never read as added), punctuation, and a
    # character none holds.
    crafted = {"糖": -2.0, "尿": -0.5, "孩": 1.0, "晕": 3.0, "、": 5.0, "鼽": -9.0}
    tables = [translations(), Translations({}, crafted, {"突": 0.5, "恶": -1.5, "晕": -3.0}), Translations({})]
    columns = [LIFTED.index(f) for f in ("added_down", "added_up", "lacked")]
    checked = 0
    with SearchIndex.open(index_dir) as ix:
        for query in ["突然头晕、恶心", "头晕怎么办", "hpv", "孩子头晕想吐"]:
            clauses = parse_query(query)
            _, matched = ix._rank(clauses)
            q = query_profile(ix._postings, clauses)
            heads = [headline(ix._postings, int(d)) for d in np.flatnonzero(matched)]
            for table in tables:
                chars = window_chars(heads)
                got = lifted(q, chars, table, held_idf(q, chars))[:, columns]
                want = np.array(_added_and_lacked_by_definition(q, heads, table)).reshape(-1, 3)
                assert np.allclose(got, want, atol=1e-12)
                checked += int(np.count_nonzero(got))
    assert checked > 10


def test_a_headline_adding_another_topic_reads_a_negative_lift(tmp_path):
    titles = ["高血压不能吃哪些食物", "糖尿病高血压不能吃哪些食物"]
    got = _feature_of_each(tmp_path, titles, "高血压不能吃的食物", "added_down")
    # The second adds 糖 and 尿 (diabetes) to the question: the train judgments made such headlines rarely relevant.
    table = translations().added
    assert table["糖"] < -1.0
    assert got["糖尿病高血压不能吃哪些食物"] < got["高血压不能吃哪些食物"] - 1.0
