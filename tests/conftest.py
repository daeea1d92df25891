"""Shared fixtures: the bundled seeds, an index built from them, and the
team's ../shared/ data (skipped when absent, required when
SEARCHKIT_REQUIRE_SHARED=1, as .ci/run sets)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = Path(os.environ.get("SEARCHKIT_SHARED", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/, or skip (fail under CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} not found: the team's shared data is not in this checkout"
        if os.environ.get("SEARCHKIT_REQUIRE_SHARED"):
            pytest.fail(reason + " (SEARCHKIT_REQUIRE_SHARED is set)")
        pytest.skip(reason)
    return path


def true_top_completions(vocab, prefix: str, k: int) -> list[str]:
    """The k most frequent indexed words whose pinyin key (for letters) or
    text (for Hanzi) starts with ``prefix``, by brute force over them all:
    what autocomplete must return when no title competes."""
    if prefix.isascii():
        words = {w for key, ws in vocab.by_key.items() if key.startswith(prefix) for w in ws}
    else:
        words = {w for w in vocab.words if w.startswith(prefix)}
    return sorted(words, key=lambda w: (-vocab.df[w], len(w), w))[:k]


def index_of_texts(directory: Path, texts: list[str], ids: list[str] | None = None) -> str:
    """An index, in ``directory``, of untitled JSONL records holding
    ``texts`` (ids ``d0``, ``d1``… unless given): the shape of the shared
    corpus, for tests on a few of its real titles."""
    import json

    from searchkit.indexer import build_index

    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "records.jsonl"
    ids = ids or [f"d{i}" for i in range(len(texts))]
    source.write_text("".join(json.dumps({"id": i, "title": "", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in zip(ids, texts)), encoding="utf-8")
    build_index([str(source)], str(directory / "index"))
    return str(directory / "index")


@pytest.fixture(scope="session")
def seed_files() -> list[Path]:
    files = sorted(SEEDS.glob("*.txt"))
    assert len(files) == 5, "the five bundled seed pages"
    return files


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory) -> str:
    from searchkit.indexer import build_index

    index_dir = str(tmp_path_factory.mktemp("seeds") / "index")
    build_index([str(SEEDS)], index_dir)
    return index_dir


@pytest.fixture(scope="session")
def seeds_search(seeds_index):
    from searchkit import SearchIndex

    with SearchIndex.open(seeds_index) as ix:
        yield ix


@pytest.fixture
def seeds_copy(tmp_path, seed_files) -> Path:
    """A writable copy of the seed pages."""
    d = tmp_path / "pages"
    d.mkdir()
    for f in seed_files:
        shutil.copy(f, d / f.name)
    return d
