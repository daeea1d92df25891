"""Crashes, concurrent use and awkward files: the index is never lost."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from searchkit import SearchIndex
from searchkit.errors import IndexUnreadableError
from searchkit.indexer import MAX_SEGMENTS, build_index
from searchkit.layout import current_generation, index_lock
from searchkit import sources
from conftest import shared_path

QUERIES = ["医保报销", "高血压能吃什么", "宝宝发烧", "\"异地就医\"", "怀孕 -感冒"]


def snapshot(index_dir):
    with SearchIndex.open(index_dir) as ix:
        # Ties may come in another order after a rebuild: compare as sorted.
        return {q: sorted((-round(h.score, 3), h.id) for h in ix.search(q, limit=10)) for q in QUERIES}


def cli(*args):
    return [sys.executable, "-m", "searchkit", *args]


@pytest.fixture(scope="module")
def generated_pages(tmp_path_factory):
    """About 2,100 generated documents as 100 seed-format pages, in two halves."""
    make = shared_path("bench", "make_corpus.py")
    root = tmp_path_factory.mktemp("gen")
    subprocess.run([sys.executable, str(make), "--docs", "2100", "--pages", str(root / "all")], check=True)
    names = sorted(os.listdir(root / "all"))
    first, second = root / "first", root / "second"
    first.mkdir()
    second.mkdir()
    for i, name in enumerate(names):
        os.link(root / "all" / name, (first if i < len(names) // 2 else second) / name)
    return root


def test_sigkill_at_any_moment_keeps_the_last_completed_index(generated_pages, tmp_path):
    """Kill real `searchkit index` runs (rebuilds and incremental updates) at 20
    points spread over most of a run; every time, the index answers as at
    the last run that completed (a kill after the final commit counts as completed)."""
    first, every = str(generated_pages / "first"), str(generated_pages / "all")
    idx = str(tmp_path / "ix")
    build_index([first], idx)
    before = snapshot(idx)

    probe = str(tmp_path / "probe")
    build_index([first], probe)
    start = time.monotonic()
    subprocess.run(cli("index", every, "--index-dir", probe), check=True, capture_output=True)
    duration = time.monotonic() - start

    after = snapshot(probe)
    assert after != before
    # Kills spread over the first 90% of the probe's time: a run that goes
    # faster than the probe did (a machine's load changes) is still killed.
    points, state, interrupted = 20, before, 0
    for i in range(points):
        args = ["index", every, "--index-dir", idx] + (["--rebuild"] if i % 2 else [])
        proc = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        at = 0.9 * duration * (i + 0.5) / points
        time.sleep(at)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = snapshot(idx)
        assert now in (state, after), f"kill {i} at {at:.2f}s of {duration:.2f}s"
        interrupted += now == state
        state = now
        if state == after and i % 2 == 0:
            build_index([first], idx)  # back to the first half, so the next update has work to do
            state = before
            assert snapshot(idx) == before
    assert interrupted >= 15  # most kills did land mid-run

    done = subprocess.run(cli("index", every, "--index-dir", idx), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert snapshot(idx) == snapshot(probe)
    leftovers = [n for n in os.listdir(idx) if n.startswith("gen-")]
    assert len(leftovers) <= 2  # current and previous only


SEARCHER = r"""
import json, sys, time
from searchkit import SearchIndex
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        with SearchIndex.open(sys.argv[1]) as ix:
            print(json.dumps({"total": ix.search("医保报销", limit=5).total}), flush=True)
    except Exception as e:
        print(json.dumps({"error": f"{e.__class__.__name__}: {e}"}), flush=True)
"""


def test_searches_in_other_processes_keep_answering(generated_pages, tmp_path):
    first, every = str(generated_pages / "first"), str(generated_pages / "all")
    idx = str(tmp_path / "ix")
    build_index([first], idx)
    with SearchIndex.open(idx) as ix:
        old_total = ix.search("医保报销", limit=5).total
    searchers = [subprocess.Popen([sys.executable, "-c", SEARCHER, idx, "25"], stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    time.sleep(1.0)
    build_index([every], idx)  # an update
    build_index([every], idx, rebuild=True)  # a rebuild
    build_index([first], idx)  # an update that removes half
    page = sorted((generated_pages / "first").iterdir())[0]
    text = page.read_text(encoding="utf-8")
    for i in range(MAX_SEGMENTS + 2):  # small updates, until segments merge
        page.write_text(text.replace("\n", f"\n补充说明:第{i}次更新。\n", 1), encoding="utf-8")
        os.utime(page, ns=(i * 10**9, i * 10**9))
        build_index([first], idx)
    page.write_text(text, encoding="utf-8")
    outputs = [p.communicate(timeout=120)[0] for p in searchers]
    with SearchIndex.open(idx) as ix:
        assert ix.search("医保报销", limit=5).total == old_total
    build_index([every], str(tmp_path / "full"))
    with SearchIndex.open(str(tmp_path / "full")) as ix:
        new_total = ix.search("医保报销", limit=5).total
    seen = [json.loads(line) for out in outputs for line in out.splitlines()]
    assert len(seen) > 10
    assert not [s for s in seen if "error" in s]
    assert {s["total"] for s in seen} <= {old_total, new_total}


def test_second_index_run_exits_3(seeds_copy, tmp_path):
    idx = tmp_path / "ix"
    idx.mkdir()
    with index_lock(str(idx), wait=0):
        r = subprocess.run(cli("index", str(seeds_copy), "--index-dir", str(idx), "--wait", "0.5"),
                           capture_output=True, text=True)
    assert r.returncode == 3
    assert "another `searchkit index` run" in r.stderr and "Traceback" not in r.stderr


def test_awkward_files_are_reported_and_the_rest_indexed(seeds_copy, tmp_path, monkeypatch):
    text = (seeds_copy / "000_162322ff5d1d489a.txt").read_text(encoding="utf-8")
    (seeds_copy / "gbk.txt").write_bytes(text.replace("•", "·").replace("北京医保卡首次如何使用", "GBK页面标题").encode("gbk"))
    (seeds_copy / "cut.txt").write_bytes(("截断的页面\n\n正文" + text[200:900]).encode("utf-8")[:-1])
    (seeds_copy / "huge.txt").write_bytes(("巨大的页面\n" + "字" * (9 * 2**20 // 3)).encode("utf-8"))
    (seeds_copy / "loop").mkdir()
    os.symlink(seeds_copy, seeds_copy / "loop" / "back")
    (seeds_copy / "locked.txt").write_text("锁住的页面\n正文", encoding="utf-8")
    real = sources.read_bytes

    def read_bytes(path):
        if path.endswith("locked.txt"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(sources, "read_bytes", read_bytes)
    report = build_index([str(seeds_copy)], str(tmp_path / "ix"))
    reasons = "\n".join(str(w) for w in report.warnings)
    assert "huge.txt: skipped: page too large" in reasons
    assert "locked.txt: skipped: Permission denied" in reasons
    assert "symlink loop" in reasons
    assert report.articles == 7  # five seeds, the GBK page and the cut one
    with SearchIndex.open(str(tmp_path / "ix")) as ix:
        assert ix.search("GBK页面标题").hits[0].title == "GBK页面标题"
        assert ix.search("截断的页面").hits[0].title == "截断的页面"


@pytest.mark.parametrize("suffix", [".skp", ".trm", "_stored.col"])
def test_missing_segment_file_says_rebuild(seeds_copy, tmp_path, suffix):
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    gen = current_generation(idx)
    for name in os.listdir(gen):
        if name.endswith(suffix):
            os.unlink(os.path.join(gen, name))
    with pytest.raises(IndexUnreadableError):
        SearchIndex.open(idx)
    with pytest.raises(IndexUnreadableError):
        build_index([str(seeds_copy)], idx)  # an update refuses too; --rebuild repairs
    build_index([str(seeds_copy)], idx, rebuild=True)
    assert snapshot(idx)["医保报销"]
