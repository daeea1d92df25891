"""Mine candidate synonyms from judged query-title pairs of the train split.

    python tools/mine_synonyms.py --corpus ../shared/corpus > /tmp/candidates.tsv

The way search engines mine synonyms from clicks: where a query and a title
judged relevant to it read the same but for one word (小孩[发烧]吃什么 /
小孩[发热]吃什么), the two words are candidates.  Each pair is counted once per
query (support), and also where the titles were judged of little or no
relevance (against).  The list is for review by eye: the pairs that are true
synonyms or everyday <-> clinical names go to ``searchkit/data/synonyms.txt``;
co-occurring but different things (吃什么 / 饮食, 头痛 / 头晕) do not.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections import defaultdict

from searchkit.analysis import data_lines, segmenter
from searchkit.text import norm

MAX_CHARS = 6  # a substituted word or phrase longer than this is not one word
MIN_CONTEXT = 2  # characters the two texts must share around the substitution


def words(text: str) -> list[str]:
    """jieba's words of normalized text, punctuation and spaces dropped."""
    return [w for w in segmenter().cut(norm(text), HMM=True) if any(ch.isalnum() for ch in w)]


def substitution(query: str, title: str) -> tuple[str, str] | None:
    """The one word (or short run of words) a title has in place of one of
    the query's, the rest the same; words only the title has at its start or
    end (…怎么办, 百度知道) are allowed."""
    q, t = words(query), words(title)
    ops = difflib.SequenceMatcher(None, q, t, autojunk=False).get_opcodes()
    while ops and ops[0][0] == "insert":
        ops = ops[1:]
    while ops and ops[-1][0] == "insert":
        ops = ops[:-1]
    changed = [op for op in ops if op[0] != "equal"]
    if len(changed) != 1 or changed[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = changed[0]
    a, b = "".join(q[i1:i2]), "".join(t[j1:j2])
    shared = sum(len("".join(q[i1:i2])) for tag, i1, i2, _, _ in ops if tag == "equal")
    if shared < MIN_CONTEXT or len(a) > MAX_CHARS or len(b) > MAX_CHARS:
        return None
    if a in b or b in a or a.isdigit() or b.isdigit():
        return None  # a part of the other word, or a number: characters already match these
    return (a, b) if a < b else (b, a)


def known_groups() -> list[set[str]]:
    return [{norm(w) for w in line.split()} for line in data_lines("synonyms.txt")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="folder with corpus.jsonl and the train judgments")
    ap.add_argument("--min-support", type=int, default=2, help="distinct queries showing a pair (default 2)")
    args = ap.parse_args(argv)
    titles = {}
    with open(os.path.join(args.corpus, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            titles[d["id"]] = d["text"]
    queries = {}
    with open(os.path.join(args.corpus, "queries_train.tsv"), encoding="utf-8") as f:
        for line in f:
            qid, text = line.rstrip("\n").split("\t")
            queries[qid] = text
    support: dict[tuple[str, str], set[str]] = defaultdict(set)
    against: dict[tuple[str, str], set[str]] = defaultdict(set)
    example: dict[tuple[str, str], str] = {}
    with open(os.path.join(args.corpus, "judgments_raw_train.tsv"), encoding="utf-8") as f:
        for line in f:
            qid, docid, label = line.rstrip("\n").split("\t")
            pair = substitution(queries[qid], titles[docid])
            if pair is None:
                continue
            if int(label) >= 2:  # relevant (qrels relevance 1 or 2)
                support[pair].add(qid)
                example.setdefault(pair, f"{queries[qid]} / {titles[docid]}")
            else:
                against[pair].add(qid)
    known = known_groups()
    rows = sorted(((len(qs), len(against[p]), p) for p, qs in support.items() if len(qs) >= args.min_support),
                  key=lambda r: (-r[0], r[1], r[2]))
    print("support\tagainst\tword\tword\talready\texample")
    for n, bad, (a, b) in rows:
        already = any(a in g and b in g for g in known)
        print(f"{n}\t{bad}\t{a}\t{b}\t{'yes' if already else ''}\t{example[(a, b)]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
