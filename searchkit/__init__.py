"""searchkit: full-text search for Chinese health articles.

    from searchkit import SearchIndex
    hits = SearchIndex.open("index").search("医保卡")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Lazy attributes keep `import searchkit` (and the CLI's start-up) cheap: Whoosh
# and jieba load only when a command needs them.
_EXPORTS = {
    "SearchIndex": "searchkit.search",
    "Hit": "searchkit.results",
    "Results": "searchkit.results",
    "Ranking": "searchkit.ranking",
    "IndexUnreadableError": "searchkit.errors",
    "IndexLockedError": "searchkit.errors",
    "IndexMissingError": "searchkit.errors",
    "QuerySyntaxError": "searchkit.errors",
    "SearchkitError": "searchkit.errors",
    "Record": "searchkit.pages",
    "parse_page": "searchkit.pages",
    "build_index": "searchkit.indexer",
    "update_index": "searchkit.indexer",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'searchkit' has no attribute {name!r}")
