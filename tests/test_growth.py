"""An update re-indexes only what changed, and the index does not grow with
every update (issue: index growth)."""

from __future__ import annotations

import json
import os

from searchkit import SearchIndex
from searchkit.indexer import build_index
from searchkit.layout import current_generation


def _lines(seed_files, n: int) -> list[str]:
    """n JSONL records made of the seeds' real sentences."""
    sentences = [s.strip() for f in seed_files for s in f.read_text(encoding="utf-8").split("。") if len(s.strip()) > 8]
    return [json.dumps({"id": f"r{i}", "title": sentences[i % len(sentences)][:20],
                        "text": "。".join(sentences[(i + k) % len(sentences)] for k in range(3))}, ensure_ascii=False)
            for i in range(n)]


def _stored_docs(index_dir: str) -> int:
    with SearchIndex.open(index_dir) as ix:
        return ix.whoosh_index.doc_count_all()


def test_one_changed_jsonl_line_reindexes_one_record(seed_files, tmp_path):
    lines = _lines(seed_files, 3000)
    data, idx = tmp_path / "data.jsonl", str(tmp_path / "ix")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_index([str(data)], idx)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(idx) for f in fs)
    for round_, animal in enumerate(["鳄鱼", "河马", "长颈鹿", "企鹅", "袋鼠", "骆驼", "孔雀"]):
        record = json.loads(lines[round_ * 100])
        record["text"] += f" 修订:{animal}"
        lines[round_ * 100] = json.dumps(record, ensure_ascii=False)
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = build_index([str(data)], idx)
        assert (report.added, report.deleted) == (1, 1)
        with SearchIndex.open(idx) as ix:
            assert ix.search(animal).hits[0].id == f"r{round_ * 100}"
            assert len(ix) == 3000
    assert _stored_docs(idx) < 3000 * 1.3  # deleted copies are merged away, not 24,000 documents
    grown = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(idx) for f in fs)
    assert grown < size * 1.5
    manifests = [n for n in os.listdir(current_generation(idx)) if n.startswith("manifest.")]
    assert len(manifests) <= 2


def test_merging_by_deleted_share_keeps_answers(seed_files, tmp_path):
    lines = _lines(seed_files, 400)
    data, idx = tmp_path / "data.jsonl", str(tmp_path / "ix")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_index([str(data)], idx)
    with SearchIndex.open(idx) as ix:
        before = [(h.id, round(h.score, 3)) for h in ix.search("医保卡", limit=10).hits]
    # Rewrite half of the records (same content, new ids back and forth): the first segment is mostly deleted.
    changed = [line.replace('"id": "r', '"id": "x') if i % 2 == 0 else line for i, line in enumerate(lines)]
    data.write_text("\n".join(changed) + "\n", encoding="utf-8")
    build_index([str(data)], idx)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_index([str(data)], idx)
    with SearchIndex.open(idx) as ix:
        assert [(h.id, round(h.score, 3)) for h in ix.search("医保卡", limit=10).hits] == before
        assert ix.whoosh_index.doc_count_all() < 400 * 1.5
