from collections import Counter

from searchkit.analysis import analyze, char_arrays, char_tokens, segmenter, word_arrays, word_tokens
from searchkit.sources import load
import unicodedata

import pytest

from searchkit.highlight import find_spans
from searchkit.text import _fold, _unaligned, folded_for, norm, normalize, normalize_checked


def words(text):
    return [w for w, *_ in word_tokens(norm(text))]


def test_normalization_folds_width_case_and_script():
    assert norm("ＨＰＶ疫苗") == "hpv疫苗"
    assert norm("醫保卡") == "医保卡"
    assert norm("COVID-19") == "covid-19"


def test_offsets_point_into_the_original_when_length_changes():
    n = normalize("ﬁle 醫保")  # the ligature becomes two characters
    assert n.text == "file 医保"
    s = n.text.index("医保")
    assert n.to_original(s, s + 2) == (4, 6)
    assert n.original[slice(*n.to_original(0, 4))] == "ﬁle"


def test_combining_marks_fold_like_precomposed_characters():
    assert norm("cafe\u0301") == norm("café") == "café"
    assert norm("Cafe\u0301 38℃") == "café 38°c"  # one composes, one grows: lengths even out
    n = normalize("Cafe\u0301 38℃ 医保")
    s = n.text.index("é")
    assert n.original[slice(*n.to_original(s, s + 1))] == "e\u0301"  # é covers its combining mark
    assert n.original[slice(*n.to_original(s + 2, s + 6))] == "38℃"
    assert n.original[slice(*n.to_original(s + 7, s + 9))] == "医保"


def test_text_that_folds_character_for_character_is_searched_as_it_is():
    # Every character the fast path keeps folds to one character, itself or ASCII...
    kept = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000 and not _unaligned().match(chr(c))]
    assert "，" in kept and "０" in kept and "①" in kept and "医" in kept
    assert "…" not in kept and "Ⅲ" not in kept and "À" not in kept and "ｶ" not in kept
    for c in kept:
        f = _fold(c, simplified=True)
        assert len(f) == 1 and (f == c or f.isascii()), c
    # ...and neither it nor its fold is the second half of a canonical composition.
    second = {unicodedata.decomposition(chr(c)).split()[-1] for c in range(0x10000)
              if len(unicodedata.decomposition(chr(c)).split()) == 2 and not unicodedata.decomposition(chr(c))[0] == "<"}
    for c in kept:
        assert f"{ord(c):04X}" not in second and f"{ord(_fold(c, True)):04X}" not in second, c


@pytest.mark.parametrize("body, as_it_is", [
    ("宝宝（３岁）发烧３８．５℃怎么办？ＨＰＶ疫苗①接种后…医保卡", False),  # ℃ and … change the length
    ("宝宝（３岁）发烧怎么办？ＨＰＶ疫苗①接种后，医保卡报销——问医生", True),  # folds character for character
    ("宝宝发烧怎么办？医保卡在醫院能用吗", False),  # traditional
])
def test_the_unfolded_fast_path_finds_what_folding_finds(body, as_it_is):
    simplified = normalize_checked(body)[1]  # as the indexer records it
    for needles in (["医保卡", "发烧", "宝"], ["医保"], ["hpv疫苗"], ["3岁"]):
        fast = folded_for(body, needles, simplified)
        assert find_spans(body, needles, fast) == find_spans(body, needles, normalize(body))
        if fast.text is body:  # taken only where it is exact: non-ASCII needles, aligned text
            assert not any(ch.isascii() for n in needles for ch in n) and "℃" not in body and "醫" not in body
    assert (folded_for(body, ["医保卡"], simplified).text is body) == as_it_is


def test_a_lone_surrogate_folds_to_the_replacement_character():
    n = normalize("醫\ud800保")
    assert n.text == "医\ufffd保" and n.to_original(2, 3) == (2, 3)


def test_digits_latin_and_mixed_tokens_are_kept():
    assert "96102" in words("拨打96102热线")
    assert "2" in words("2型糖尿病") and "糖尿病" in words("2型糖尿病")
    assert "hpv" in words("HPV疫苗") and "疫苗" in words("HPV疫苗")
    assert "whipple" in words("胰腺癌Whipple手术")
    assert {"covid", "19"} <= set(words("COVID-19"))


def test_user_dictionary_terms_are_single_words():
    for term in ("异地就医", "家庭共济", "二月闹", "职工医保", "城乡居民医保", "慢特病"):
        assert term in words(f"关于{term}的说明"), term


def test_search_mode_sub_words_share_the_position_of_their_word():
    toks = list(word_tokens(norm("北京医保卡首次使用")))
    pos = {w: p for w, p, *_ in toks}
    assert pos["医保"] == pos["医保卡"] == pos["北京"] + 1
    assert pos["首次"] == pos["医保卡"] + 1


def test_char_tokens_are_unigrams_and_bigrams_with_gaps_at_punctuation():
    toks = [(t, p) for t, p, *_ in char_tokens(norm("异地就医。北京"))]
    uni = [(t, p) for t, p in toks if len(t) == 1]
    assert [t for t, _ in uni] == list("异地就医北京")
    positions = [p for _, p in uni]
    assert positions[1:4] == [positions[0] + 1, positions[0] + 2, positions[0] + 3]
    assert positions[4] == positions[3] + 2  # the full stop leaves a gap
    assert ("医北", positions[3]) not in toks and ("就医", positions[2]) in toks


def test_char_offsets_map_tokens_back_to_their_characters():
    text = norm("胰腺癌Whipple手术 COVID-19")
    for t, _, s, e in char_tokens(text):
        assert text[s:e] == t
    for t, _, s, e in word_tokens(text):
        assert text[s:e] == t


def test_batch_arrays_match_the_token_streams(seed_files):
    """The vectorized indexing path yields exactly the terms a query is cut into."""
    texts = [norm(t) for f in seed_files for r in load(str(f)).records for t in (r.title, r.body)]
    texts += [norm("COVID-19疫苗 hpv9价 ABC中文 ١٢٣ 𠀀𠀁 x_y 1.5mg"), ""]
    chars, words_ = char_arrays(texts), word_arrays(texts)
    for i, text in enumerate(texts):
        assert Counter(chars.terms[j] for j in chars.ids[chars.docs == i]) == \
            Counter(t for t, *_ in char_tokens(text))
        assert Counter(words_.terms[j] for j in words_.ids[words_.docs == i]) == \
            Counter(t for t, *_ in word_tokens(text))


def test_analyze_normalizes_every_field():
    tokens = analyze([("醫保卡", "", "")])
    assert sorted(tokens["title"].terms) == ["医保", "医保卡"]
    assert "医保" in tokens["title_chars"].terms and tokens["body"].terms == []


def test_jieba_is_loaded_once():
    assert segmenter() is segmenter()
