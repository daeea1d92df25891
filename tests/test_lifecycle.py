"""Indexing runs that are interrupted, strict or repeated leave the index as
it was, release the lock and say only what happened."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from click.testing import CliRunner

from searchkit import SearchIndex
from searchkit.cli import main
from searchkit.errors import IndexLockedError, SkippedInputError
from searchkit.indexer import build_index
from searchkit.layout import index_lock
from test_reliability import cli, generated_pages, snapshot  # noqa: F401 - a shared fixture


def _locked(idx: str) -> bool:
    """Does another process hold the index lock?"""
    try:
        with index_lock(idx, 0):
            return False
    except IndexLockedError:
        return True


def _gens(idx: str) -> list[str]:
    return sorted(n for n in os.listdir(idx) if n.startswith("gen-"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_workers_and_keeps_the_index(generated_pages, tmp_path, sig):  # noqa: F811
    first, every = str(generated_pages / "first"), str(generated_pages / "all")
    idx = str(tmp_path / "ix")
    build_index([first], idx)
    before = snapshot(idx)
    start = time.monotonic()
    subprocess.run(cli("index", every, "--index-dir", str(tmp_path / "probe")), check=True, capture_output=True)
    duration = time.monotonic() - start
    interrupted = 0
    for i, share in enumerate((0.15, 0.35, 0.55, 0.75)):
        args = ["index", every, "--index-dir", idx] + (["--rebuild"] if i % 2 else [])
        proc = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        held = time.monotonic() + 30
        while not _locked(idx) and proc.poll() is None and time.monotonic() < held:
            time.sleep(0.01)  # the run has started once it holds the index lock
        time.sleep(duration * share)
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"`searchkit index` hung after {sig.name} at {share:.0%} of a run")
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        # It finished first (a signal landing while Python shuts down, after the
        # new index is in, ends the process by that signal): start again from the first half.
        if proc.returncode == 0 or (proc.returncode == -sig and snapshot(idx) != before):
            build_index([first], idx)
            continue
        interrupted += 1
        assert proc.returncode == 130, (proc.returncode, err)
        assert err.strip().splitlines()[-1] == "searchkit: interrupted", err
        assert snapshot(idx) == before
        assert len(_gens(idx)) == 1  # no half-built generation left behind
        # The lock is free at once.
        quick = subprocess.run(cli("stats", "--index-dir", idx), capture_output=True, text=True)
        assert quick.returncode == 0
    assert interrupted >= 2
    done = subprocess.run(cli("index", first, "--index-dir", idx, "--wait", "0"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "interrupted run" not in done.stderr


def test_repeated_rebuilds_keep_two_generations_and_say_nothing_of_interruptions(seeds_copy, tmp_path):
    idx = str(tmp_path / "ix")
    runner = CliRunner()
    for _ in range(4):
        r = runner.invoke(main, ["index", str(seeds_copy), "--index-dir", idx, "--rebuild"])
        assert r.exit_code == 0
        assert "interrupted" not in r.output
        assert len(_gens(idx)) <= 2
    # A generation that a killed run left behind is reported as such.
    os.mkdir(os.path.join(idx, "gen-0000dead"))
    r = runner.invoke(main, ["index", str(seeds_copy), "--index-dir", idx])
    assert r.exit_code == 0 and "removed leftover gen-0000dead from an interrupted run" in r.output


def test_strict_with_skips_changes_nothing(seeds_copy, tmp_path):
    idx = str(tmp_path / "ix")
    build_index([str(seeds_copy)], idx)
    before, gens = snapshot(idx), _gens(idx)
    (seeds_copy / "binary.txt").write_bytes(b"\x00\x01\x02 not a page")
    shutil.copy(seeds_copy / "000_162322ff5d1d489a.txt", seeds_copy / "extra.txt")
    for extra in ([], ["--rebuild"]):
        r = CliRunner().invoke(main, ["index", str(seeds_copy), "--index-dir", idx, "--strict", *extra])
        assert r.exit_code == 2, r.output
        assert "binary.txt: skipped" in r.output and "the index is unchanged" in r.output
        assert "Traceback" not in r.output
        assert snapshot(idx) == before and _gens(idx) == gens


def test_lines_skipped_by_an_earlier_run_are_still_reported(tmp_path):
    """A file indexed with a bad line, unchanged since, is not read again on
    an update; the manifest remembers what was skipped, so the update still
    warns and ``--strict`` still fails (the index lacks that line)."""
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"id": "1", "text": "感冒发烧怎么办"}\n{"id": broken\n{"id": "2", "text": "医保卡丢了"}\n',
                    encoding="utf-8")
    idx = str(tmp_path / "ix")
    runner = CliRunner()
    first = runner.invoke(main, ["index", str(docs), "--index-dir", idx])
    assert first.exit_code == 0 and "docs.jsonl:2: skipped line" in first.output
    again = runner.invoke(main, ["index", str(docs), "--index-dir", idx])
    assert again.exit_code == 0 and "0 new or changed" in again.output and "1 skipped" in again.output
    warned = [line for line in first.output.splitlines() if "skipped line" in line]
    assert len(warned) == 1 and warned == [line for line in again.output.splitlines() if "skipped line" in line]
    before = snapshot(idx)
    strict = runner.invoke(main, ["index", str(docs), "--index-dir", idx, "--strict"])
    assert strict.exit_code == 2 and "docs.jsonl:2: skipped line" in strict.output
    assert "the index is unchanged" in strict.output and "Traceback" not in strict.output
    assert snapshot(idx) == before
    docs.write_text('{"id": "1", "text": "感冒发烧怎么办"}\n{"id": "2", "text": "医保卡丢了"}\n', encoding="utf-8")
    fixed = runner.invoke(main, ["index", str(docs), "--index-dir", idx, "--strict"])
    assert fixed.exit_code == 0 and "skipped line" not in fixed.output and "0 skipped" in fixed.output


def test_records_skipped_for_their_id_are_reported_until_the_conflict_ends(tmp_path):
    """A record skipped because another file holds its id stays out of the
    index while neither file changes: updates that read neither file still
    report it (``--strict`` fails), one that changes either reports it where
    it now stands, and once the other file lets the id go it is indexed."""
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text('{"id": "1", "text": "感冒发烧怎么办"}\n', encoding="utf-8")
    second.write_text('{"id": "1", "text": "医保卡丢了怎么补办"}\n{"id": "2", "text": "咳嗽有痰"}\n', encoding="utf-8")
    idx = str(tmp_path / "ix")
    runner = CliRunner()

    def index(*extra):
        return runner.invoke(main, ["index", str(first), str(second), "--index-dir", idx, *extra])

    def skips(result):
        return [line for line in result.output.splitlines() if "is already used by" in line]

    built = index()
    assert built.exit_code == 0 and skips(built) == [f"searchkit: warning: {second}:1: skipped: id '1' is already "
                                                     f"used by {first}:1"]
    again = index()
    assert again.exit_code == 0 and "0 new or changed" in again.output and skips(again) == skips(built)
    before = snapshot(idx)
    strict = index("--strict")
    assert strict.exit_code == 2 and skips(strict) == skips(built) and "Traceback" not in strict.output
    assert snapshot(idx) == before
    # The losing file changes around the skipped line: reported where it now stands.
    second.write_text('{"id": "3", "text": "头痛"}\n{"id": "1", "text": "医保卡丢了怎么补办"}\n'
                      '{"id": "2", "text": "咳嗽有痰"}\n', encoding="utf-8")
    moved = index()
    assert moved.exit_code == 0 and skips(moved) == [f"searchkit: warning: {second}:2: skipped: id '1' is already "
                                                     f"used by {first}:1"]
    assert skips(index()) == skips(moved)
    # The keeping file changes elsewhere: the conflict holds.
    first.write_text('{"id": "1", "text": "感冒发烧怎么办"}\n{"id": "4", "text": "失眠"}\n', encoding="utf-8")
    assert skips(index()) == skips(moved) and skips(index()) == skips(moved)
    with SearchIndex.open(idx) as ix:
        assert ix.get("1").body == "感冒发烧怎么办" and not ix.search("医保卡补办").total
    # It lets the id go: the record is indexed, and nothing is reported any more.
    first.write_text('{"id": "5", "text": "感冒发烧怎么办"}\n{"id": "4", "text": "失眠"}\n', encoding="utf-8")
    freed = index("--strict")
    assert freed.exit_code == 0 and not skips(freed) and not skips(index("--strict"))
    with SearchIndex.open(idx) as ix:
        assert ix.get("1").body == "医保卡丢了怎么补办" and ix.search("医保卡补办").hits[0].id == "1"


def _skips(report) -> set[str]:
    return {str(w) for w in report.warnings if "is already used by" in w.reason}


def _bodies(idx: str, ids) -> dict:
    with SearchIndex.open(idx) as ix:
        return {i: (doc.body if (doc := ix.get(i)) else None) for i in ids}


def test_updates_skip_and_report_repeated_ids_as_a_rebuild_does(tmp_path):
    """After each edit, an update holds the same records and reports the same
    records skipped for their id as a rebuild of the same files: repeats
    within a file and across files, inserted before or after the kept one,
    moved, freed, in files added and removed."""
    files = {name: tmp_path / f"{name}.jsonl" for name in "abc"}
    texts = {"x1": "感冒发烧怎么办", "x2": "医保卡丢了怎么补办", "x3": "头痛失眠", "y1": "咳嗽有痰", "y2": "胃痛"}

    def write(**lines):
        for name, ids in lines.items():
            files[name].write_text("".join(f'{{"id": "{i[0]}", "text": "{texts[i]}"}}\n' for i in ids.split()),
                                   encoding="utf-8")

    def check(step: str) -> set[str]:
        sources = [str(f) for f in files.values() if f.exists()]
        update = build_index(sources, str(tmp_path / "ix"))
        rebuild = build_index(sources, str(tmp_path / "fresh"), rebuild=True)
        assert _skips(update) == _skips(rebuild), step
        assert _bodies(str(tmp_path / "ix"), "xy") == _bodies(str(tmp_path / "fresh"), "xy"), step
        again = build_index(sources, str(tmp_path / "ix"))  # reads no file
        assert again.changed_files == 0 and _skips(again) == _skips(rebuild), step
        return _skips(rebuild)

    # Ids are the first letter: x2 and x3 are two texts under the id x.
    write(a="x1", b="x2 x3 y1", c="")
    assert len(check("across files, and twice within one")) == 2
    write(c="y2")
    assert len(check("a third file repeats an id of an untouched one")) == 3
    write(b="x2 x3 y1 x3")
    assert len(check("a repeat appended within a file")) == 4
    write(b="y2 x2 x3 y1 x3")
    assert len(check("a repeat inserted before the kept one")) == 5
    write(a="y1")
    assert len(check("the keeping file lets one id go and takes another")) == 5
    files["a"].unlink()
    assert len(check("the keeping file removed")) == 4
    write(b="y1", c="")
    assert not check("no repeats left")


def test_an_index_whose_manifest_predates_remembered_skips_still_reports_them(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text('{"id": "1", "text": "感冒发烧怎么办"}\n', encoding="utf-8")
    second.write_text('{"id": "1", "text": "医保卡丢了怎么补办"}\n', encoding="utf-8")
    idx = tmp_path / "ix"
    built = _skips(build_index([str(first), str(second)], str(idx)))
    for manifest in idx.rglob("manifest*.json"):  # as the previous version wrote them
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        doc.pop("repeated", None)
        manifest.write_text(json.dumps(doc), encoding="utf-8")
    assert len(built) == 1 and _skips(build_index([str(first), str(second)], str(idx))) == built
    with pytest.raises(SkippedInputError):
        build_index([str(first), str(second)], str(idx), strict=True)
