"""Mine the reranker's character translations (``data/translations.txt``).

Called by ``train_rerank.py``, which writes the table beside the model.  The
way web search learns from clicks which query words a result may say
otherwise: over the judged train windows (the first stage's best results of
each query, labelled relevant or not), every query character a headline
lacks is paired with every character the headline holds that the query does
not.  A pair's lift is the log-odds that such a headline was relevant,
smoothed towards the rate of all (headline, lacked character) cases, minus
that rate's log-odds: 孩 -> 儿 comes out high (孩子 / 儿童), 烧 -> 疼 low (a
headline about pain, not fever).  Pairs seen in fewer than :data:`MIN_SEEN`
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
:data:`~searchkit.rerank.LIFTED` features are read through a table mined
from the other folds.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable

from searchkit.rerank import ADDED, LACKED, Translations, han_units

MIN_SEEN = 5  # distinct headlines behind a lift (a pair's, an added or a lacked character's), at least
SMOOTH = 20.0  # pseudo-cases at the overall rate
TOP = 20  # pairs kept per query character, by the size of their lift

# A query's window: its distinct Han characters, and each headline's (text, judged relevant?).
Window = tuple[tuple[str, ...], list[tuple[str, bool]]]


def lift(relevant: int, seen: int, rate: float) -> float:
    """Log-odds of relevance in ``seen`` cases, ``relevant`` of them
    relevant, smoothed towards ``rate``, minus the log-odds of ``rate``."""
    p = (relevant + SMOOTH * rate) / (seen + SMOOTH)
    return round(math.log(p / (1 - p)) - math.log(rate / (1 - rate)), 2)


def mine(windows: Iterable[Window]) -> Translations:
    """Query character -> headline character -> lift, headline character ->
    lift where the query lacks it, and query character -> lift where the
    headline lacks it (see the module)."""
    seen, relevant = Counter(), Counter()
    added, added_relevant = Counter(), Counter()
    lacked, lacked_relevant = Counter(), Counter()
    # The distinct headlines behind each lift: one headline seen in many windows would make a
    # lift of its own judgments, a prior of one document.
    texts: dict[str, int] = {}
    sources: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # keyed as the lines of the file
    cases = hits = heads_seen = heads_relevant = 0
    for chars, heads in windows:
        query = set(chars)
        for text, rel in heads:
            held = set(han_units(text))
            extra = {b for b in held - query if ord(b) < 0x10000}  # looked up by BMP code point
            source = texts.setdefault(text, len(texts))
            heads_seen += 1
            heads_relevant += rel
            added.update(extra)
            if rel:
                added_relevant.update(extra)
            for b in extra:
                sources[ADDED, b].add(source)
            for a in chars:
                if a in held:
                    continue
                lacked[a] += 1
                lacked_relevant[a] += rel
                sources[LACKED, a].add(source)
                cases += 1
                hits += rel
                for b in extra:
                    seen[a, b] += 1
                    sources[a, b].add(source)
                    if rel:
                        relevant[a, b] += 1
    if not heads_relevant or heads_relevant == heads_seen:
        return Translations({})
    rate = heads_relevant / heads_seen
    lifts = [{c: lift(relevant_of[c], n, rate) for c, n in sorted(counts.items()) if len(sources[key, c]) >= MIN_SEEN}
             for key, counts, relevant_of in ((ADDED, added, added_relevant), (LACKED, lacked, lacked_relevant))]
    if not hits or hits == cases:
        return Translations({}, *lifts)
    rate = hits / cases
    rows: dict[str, list[tuple[float, str]]] = {}
    for (a, b), n in seen.items():
        if len(sources[a, b]) >= MIN_SEEN:
            rows.setdefault(a, []).append((lift(relevant[a, b], n, rate), b))
    return Translations({a: {b: v for v, b in sorted(pairs, key=lambda t: (-abs(t[0]), t[1]))[:TOP]}
                         for a, pairs in sorted(rows.items())}, *lifts)


def write(table: Translations, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Query character, then headline characters with their lift (tools/translations.py);\n"
                f"# the line {ADDED}: headline characters the query lacks, with theirs;\n"
                f"# the line {LACKED}: query characters the headline lacks, with theirs.\n"
                "# Written by tools/train_rerank.py from the KUAKE-QTR train split.\n")
        for a, row in [*table.pairs.items(), (ADDED, table.added), (LACKED, table.lacked)]:
            f.write(a + " " + " ".join(f"{b}:{v:g}" for b, v in row.items()) + "\n")
