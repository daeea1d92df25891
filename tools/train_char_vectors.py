"""Build searchkit's character vectors (``data/char_vectors.npz``) from unlabelled text.

    pip install -e '.[train]'
    python tools/train_char_vectors.py ../shared/corpus/corpus.jsonl ../shared/corpus/dialogue.jsonl \\
        --out searchkit/data/char_vectors.npz

The reranker asks whether a query character a headline lacks has a near
stand-in there (腹 for 肚, 痛 for 疼).  Closeness comes from how characters
are used, not from any judgment: every record's ``title`` and ``text`` is cut
into runs of Han characters, characters co-occurring within ``WINDOW`` of
each other are counted (weighted by 1/distance), and the positive PMI of
those counts (context counts smoothed to the power ``ALPHA``) is reduced to
``DIM`` dimensions by a truncated SVD (Levy & Goldberg's PPMI-SVD).  Rows are
scaled to unit length, so a dot product is a cosine.  Deterministic for the
same inputs (signs made canonical: they vary across BLAS builds).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from typing import Iterator

import numpy as np

from searchkit.text import norm

DIM = 128
WINDOW = 3
ALPHA = 0.75  # context-distribution smoothing: rare contexts count less towards PMI
MIN_COUNT = 3  # rarer characters get no vector
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")


def han_runs(paths: list[str]) -> Iterator[str]:
    """The runs of Han characters of every record's title and text."""
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                for field in ("title", "text"):
                    yield from _HAN_RUN.findall(norm(record.get(field) or ""))


def vectors(runs: list[str]) -> tuple[list[str], np.ndarray]:
    """The characters seen at least ``MIN_COUNT`` times and their unit PPMI-SVD vectors."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    counts = Counter(ch for run in runs for ch in run)
    chars = [ch for ch, n in counts.most_common() if n >= MIN_COUNT]
    at = {ch: i for i, ch in enumerate(chars)}
    rows, cols, vals = [], [], []
    for run in runs:
        ids = [at.get(ch, -1) for ch in run]
        for i, a in enumerate(ids):
            if a < 0:
                continue
            for j in range(max(0, i - WINDOW), min(len(ids), i + WINDOW + 1)):
                if j != i and ids[j] >= 0:
                    rows.append(a)
                    cols.append(ids[j])
                    vals.append(1.0 / abs(i - j))
    size = len(chars)
    m = sp.coo_matrix((vals, (rows, cols)), shape=(size, size)).tocsr().tocoo()  # duplicates summed
    total = m.data.sum()
    row_p = np.asarray(m.sum(axis=1)).ravel() / total
    col_p = np.asarray(m.sum(axis=0)).ravel() ** ALPHA
    col_p /= col_p.sum()
    pmi = np.log(m.data / total / (row_p[m.row] * col_p[m.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=(size, size))
    u, s, _ = svds(ppmi, k=DIM, random_state=0)
    # A singular vector's sign is arbitrary (it differs across BLAS builds):
    # make each column's largest entry positive, so the file is the same.
    u *= np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    vec = u * np.sqrt(s)
    return chars, vec / (np.linalg.norm(vec, axis=1, keepdims=True) + 1e-9)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sources", nargs="+", help="JSON-lines files of records with title and/or text")
    ap.add_argument("--out", required=True, help="write the vectors here (.npz)")
    args = ap.parse_args(argv)
    chars, vec = vectors(list(han_runs(args.sources)))
    np.savez_compressed(args.out, chars=np.array(chars), vectors=vec.astype(np.float16))
    print(f"{len(chars)} characters x {DIM} dimensions -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
