"""Mine the reranker's character translations (``data/translations.txt``).

Called by ``train_rerank.py``, which writes the table beside the model.  The
way web search learns from clicks which query words a result may say
otherwise: over the judged train windows (the first stage's best results of
each query, labelled relevant or not), every query character a headline
lacks is paired with every character the headline holds that the query does
not.  A pair's lift is the log-odds that such a headline was relevant
(each distinct headline counted once, with the share of its cases judged
relevant), smoothed towards the rate of all (headline, lacked character)
cases, minus that rate's log-odds: 孩 -> 儿 comes out high (孩子 / 儿童),
烧 -> 疼 low (a headline about pain, not fever).  Pairs seen in fewer than :data:`MIN_SEEN`
distinct headlines are dropped (a lift of one headline's judgments would
be a prior of that document) and each character keeps its :data:`TOP`
strongest (either sign), so the table stays small.

Beside the pairs, the same lift of each single character a headline holds
that its query does not, against all window headlines (``added``): 糖 comes
out low (a headline that adds it is about something else); and of each
query character a headline lacks (``lacked``): 况 of 情况 high, 肾 low.

Only relations of characters are kept, never which query or headline
they came from; still, a table mined from a query's own judgments would tell
the model its labels, so ``train_rerank.py`` cross-fits it: each train row's
:data:`~searchkit.lifts.LIFTED` features are read through a table mined
from the other folds.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

from searchkit.analysis import han_units
from searchkit.lifts import ADDED, LACKED, Translations

MIN_SEEN = 5  # distinct headlines behind a lift (a pair's, an added or a lacked character's), at least
SMOOTH = 20.0  # pseudo-cases at the overall rate
TOP = 20  # pairs kept per query character, by the size of their lift

# A query's window: its distinct Han characters, and each headline's (text, judged relevant?).
Window = tuple[tuple[str, ...], list[tuple[str, bool]]]


def lift(relevant: float, seen: int, rate: float) -> float:
    """Log-odds of relevance in ``seen`` headlines, ``relevant`` of them
    relevant (a headline judged in several windows counts the share it was
    relevant in), smoothed towards ``rate``, minus the log-odds of ``rate``."""
    p = (relevant + SMOOTH * rate) / (seen + SMOOTH)
    return round(math.log(p / (1 - p)) - math.log(rate / (1 - rate)), 2)


def mine(windows: Iterable[Window]) -> Translations:
    """Query character -> headline character -> lift, headline character ->
    lift where the query lacks it, and query character -> lift where the
    headline lacks it (see the module).  Each headline counts once towards
    a lift, with the share of its cases judged relevant, however many
    windows it was judged in: else one headline judged often would make the
    lift its own, a prior of one document."""
    cases, relevant = Counter(), Counter()  # (lift's key, headline) -> cases, relevant cases
    texts: dict[str, int] = {}
    pair_cases = pair_hits = heads_seen = heads_relevant = 0
    for chars, heads in windows:
        query = set(chars)
        for text, rel in heads:
            held = set(han_units(text))
            extra = {b for b in held - query if ord(b) < 0x10000}  # looked up by BMP code point
            source = texts.setdefault(text, len(texts))
            heads_seen += 1
            heads_relevant += rel
            keys = [(ADDED, b) for b in extra]  # keyed as the lines of the file: no Han character is + or -
            for a in chars:
                if a not in held:
                    pair_cases += 1
                    pair_hits += rel
                    keys.append((LACKED, a))
                    keys += [(a, b) for b in extra]
            for key in keys:
                cases[key, source] += 1
                if rel:
                    relevant[key, source] += 1
    if not heads_relevant or heads_relevant == heads_seen:
        return Translations({})
    headlines, share = Counter(), Counter()  # lift's key -> distinct headlines, their summed relevant shares
    for key, _ in cases:
        headlines[key] += 1
    for (key, source), n in relevant.items():
        share[key] += n / cases[key, source]
    kept = [key for key, n in sorted(headlines.items()) if n >= MIN_SEEN]
    rate = heads_relevant / heads_seen
    added = {b: lift(share[line, b], headlines[line, b], rate) for line, b in kept if line == ADDED}
    lacked = {a: lift(share[line, a], headlines[line, a], rate) for line, a in kept if line == LACKED}
    if not pair_hits or pair_hits == pair_cases:
        return Translations({}, added, lacked)
    rate = pair_hits / pair_cases
    rows: dict[str, list[tuple[float, str]]] = {}
    for a, b in kept:
        if a not in (ADDED, LACKED):
            rows.setdefault(a, []).append((lift(share[a, b], headlines[a, b], rate), b))
    return Translations({a: {b: v for v, b in sorted(pairs, key=lambda t: (-abs(t[0]), t[1]))[:TOP]}
                         for a, pairs in sorted(rows.items())}, added, lacked)


def write(table: Translations, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Query character, then headline characters with their lift (tools/translations.py);\n"
                f"# the line {ADDED}: headline characters the query lacks, with theirs;\n"
                f"# the line {LACKED}: query characters the headline lacks, with theirs.\n"
                "# Written by tools/train_rerank.py from the KUAKE-QTR train split.\n")
        for a, row in [*table.pairs.items(), (ADDED, table.added), (LACKED, table.lacked)]:
            f.write(a + " " + " ".join(f"{b}:{v:g}" for b, v in row.items()) + "\n")
