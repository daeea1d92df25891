"""Mine the reranker's character translations (``data/translations.txt``).

Called by ``train_rerank.py``, which writes the table beside the model.  The
way web search learns from clicks which query words a result may say
otherwise: over the judged train windows (the first stage's best results of
each query, labelled relevant or not), every query character a headline
lacks is paired with every character the headline holds that the query does
not.  A pair's lift is the log-odds that such a headline was relevant,
smoothed towards the rate of all (headline, lacked character) cases, minus
that rate's log-odds: 孩 -> 儿 comes out high (孩子 / 儿童), 烧 -> 疼 low (a
headline about pain, not fever).  Pairs seen fewer than :data:`MIN_SEEN`
times are dropped and each character keeps its :data:`TOP` strongest
(either sign), so the table stays small.

Only relations of two characters are kept, never which query or headline
they came from; still, a table mined from a query's own judgments would tell
the model its labels, so ``train_rerank.py`` cross-fits it: each train row's
``translated`` is read through a table mined from the other folds.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

from searchkit.rerank import han_units

MIN_SEEN = 5  # a pair's (query lacks, headline holds) cases, at least
SMOOTH = 20.0  # pseudo-cases at the overall rate
TOP = 20  # pairs kept per query character, by the size of their lift

# A query's window: its distinct Han characters, and each headline's (text, judged relevant?).
Window = tuple[tuple[str, ...], list[tuple[str, bool]]]


def mine(windows: Iterable[Window]) -> dict[str, dict[str, float]]:
    """Query character -> headline character -> lift (see the module)."""
    seen, relevant = Counter(), Counter()
    cases = hits = 0
    for chars, heads in windows:
        query = set(chars)
        for text, rel in heads:
            held = set(han_units(text))
            extra = {b for b in held - query if ord(b) < 0x10000}  # looked up by BMP code point
            for a in chars:
                if a in held:
                    continue
                cases += 1
                hits += rel
                for b in extra:
                    seen[a, b] += 1
                    if rel:
                        relevant[a, b] += 1
    if not hits or hits == cases:
        return {}
    rate = hits / cases
    base = math.log(rate / (1 - rate))
    rows: dict[str, list[tuple[float, str]]] = {}
    for (a, b), n in seen.items():
        if n >= MIN_SEEN:
            p = (relevant[a, b] + SMOOTH * rate) / (n + SMOOTH)
            rows.setdefault(a, []).append((round(math.log(p / (1 - p)) - base, 2), b))
    return {a: {b: v for v, b in sorted(pairs, key=lambda t: (-abs(t[0]), t[1]))[:TOP]}
            for a, pairs in sorted(rows.items())}


def write(table: dict[str, dict[str, float]], path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Query character, then headline characters with their lift (tools/translations.py);\n"
                "# written by tools/train_rerank.py from the KUAKE-QTR train split.\n")
        for a, row in table.items():
            f.write(a + " " + " ".join(f"{b}:{v:g}" for b, v in row.items()) + "\n")
