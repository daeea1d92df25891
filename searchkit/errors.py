"""Exceptions a caller can act on; each message is one line a user can read."""


class SearchkitError(Exception):
    """Base class: the CLI prints the message and exits with ``exit_code``."""

    exit_code = 2


class IndexMissingError(SearchkitError):
    """No index at the given directory yet."""


class IndexUnreadableError(SearchkitError):
    """The directory holds something that is not a usable searchkit index:
    corrupt, foreign, or built by an incompatible version.  The message
    ends with the command that rebuilds it, for that directory."""

    def __init__(self, index_dir: str, problem: str):
        super().__init__(f"{problem}; rebuild it with: searchkit index --rebuild --index-dir {index_dir}")
        self.index_dir = index_dir


class IndexClosedError(SearchkitError):
    """The ``SearchIndex`` was closed."""


class IndexLockedError(SearchkitError):
    """Another ``searchkit index`` run holds the index lock."""

    exit_code = 3


class QuerySyntaxError(SearchkitError):
    """A query the parser cannot read."""


class UsageError(SearchkitError):
    """Bad arguments: an invalid date, page number, or index directory."""


class SkippedInputError(SearchkitError):
    """Under ``strict``, some files or lines could not be indexed: nothing
    was changed.  ``warnings`` lists them."""

    def __init__(self, message: str, warnings: list):
        super().__init__(message)
        self.warnings = warnings
