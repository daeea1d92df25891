"""Settings from files: ``searchkit.toml`` or ``[tool.searchkit]`` in
``pyproject.toml`` in the working directory.

Precedence is flags > environment (``SEARCHKIT_INDEX``) > these files >
built-in defaults; the CLI passes them to click as its ``default_map``.

    # searchkit.toml
    index_dir = "my_index"
    limit = 20
    sources = ["pages/", "more.jsonl"]
"""

from __future__ import annotations

import os
import tomllib

from .errors import UsageError

# Which commands take each setting.
_KEYS = {
    "index_dir": ("index", "search", "show", "eval", "suggest", "similar", "stats"),
    "limit": ("search", "suggest", "similar"),
    "wait": ("index",),
    "sources": ("index",),
}


def load(cwd: str = ".") -> tuple[dict, str | None]:
    """The settings and the file they came from (None: no file)."""
    own = os.path.join(cwd, "searchkit.toml")
    project = os.path.join(cwd, "pyproject.toml")
    for path, table in ((own, None), (project, "searchkit")):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise UsageError(f"cannot read settings from {path}: {e}") from None
        if table:
            data = data.get("tool", {}).get(table)
            if data is None:
                continue
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise UsageError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(_KEYS)})")
        return data, path
    return {}, None


def default_map(settings: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in settings.items():
        for command in _KEYS[key]:
            out.setdefault(command, {})[key] = value
    return out
