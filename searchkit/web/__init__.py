"""``searchkit serve``: an HTTP JSON API and a search page over one shared,
live-reloading :class:`~searchkit.search.SearchIndex` per process.

    from searchkit.web import create_app
    app = create_app("index")          # any ASGI server, or mount it in your app
"""

from .app import create_app

__all__ = ["create_app"]
