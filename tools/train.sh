#!/usr/bin/env bash
# Everything searchkit learns from the judged train queries, in one command:
#   tools/train.sh [CORPUS_DIR]     (default ../shared/corpus; needs pip install -e '.[train]')
# builds an index of CORPUS_DIR/corpus.jsonl, fits the ranking weights
# (searchkit/data/ranking.json), the character vectors from unlabelled text
# (searchkit/data/char_vectors.npz), then the reranker on top of them
# (searchkit/data/rerank.json), each fit reporting 5-fold CV on train and dev.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$here/../shared/corpus}
index=$(mktemp -d)/index
trap 'rm -rf "$(dirname "$index")"' EXIT
searchkit index "$corpus/corpus.jsonl" --index-dir "$index" --rebuild
python "$here/tools/train_ranking.py" --corpus "$corpus" --index-dir "$index" --out "$here/searchkit/data/ranking.json"
python "$here/tools/train_char_vectors.py" "$corpus/corpus.jsonl" "$corpus/dialogue.jsonl" \
    --out "$here/searchkit/data/char_vectors.npz"
python "$here/tools/train_rerank.py" --corpus "$corpus" --index-dir "$index" --out "$here/searchkit/data/rerank.json" \
    --translations "$here/searchkit/data/translations.txt"
