"""message_store for SQLite: Message DB 1.3's functions as a loadable extension.

    import sqlite3, message_store_sqlite
    conn = sqlite3.connect("store.db")
    message_store_sqlite.load(conn)

``load`` takes a standard library ``sqlite3.Connection`` or an
``apsw.Connection``; ``loadable_path()`` is the library's file for any other
host (``conn.load_extension(path)``, the sqlite3 CLI's ``.load``).
"""

import os
from importlib.metadata import PackageNotFoundError, version as _version

__all__ = ["ExtensionLoadingUnavailable", "load", "loadable_path", "__version__"]

try:
    __version__ = _version("message-store-sqlite")
except PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

_LIBRARY = "libmessage_store_sqlite.so"

_NO_LOADING = (
    "message_store_sqlite.load: this Python's sqlite3 module cannot load SQLite extensions: "
    "it was built without --enable-loadable-sqlite-extensions, so sqlite3.Connection has no "
    "enable_load_extension(). Use apsw instead (pip install apsw; "
    "message_store_sqlite.load(apsw.Connection(path))), or a Python built with "
    "--enable-loadable-sqlite-extensions (such as Debian's /usr/bin/python3)."
)


class ExtensionLoadingUnavailable(RuntimeError):
    """The connection's SQLite module was built without extension loading."""


# The library keeps the routines of the SQLite it was first loaded into for
# the whole process: connections of a second SQLite library (sqlite3 beside
# apsw) would call into the wrong one and crash the process.
_loaded_into = None


def loadable_path() -> str:
    """The full path of the extension library inside this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY)


def _is_stdlib_connection(conn) -> bool:
    try:
        import sqlite3
    except ImportError:  # a Python without _sqlite3 cannot have made conn
        return False
    return isinstance(conn, sqlite3.Connection)


def _sqlite_module(kind) -> str:
    # The module of the class that defines enable_load_extension names the
    # SQLite library ("sqlite3", "apsw"), also for a subclass of it.
    for base in kind.__mro__:
        if "enable_load_extension" in vars(base):
            return base.__module__.partition(".")[0]
    return kind.__module__.partition(".")[0]


def load(conn) -> None:
    """Loads the extension into conn, a sqlite3.Connection or an apsw.Connection.

    Extension loading is turned on only for the load and off again afterwards:
    while it is on, any SQL the connection runs could load a library with
    load_extension().
    """
    enable = getattr(conn, "enable_load_extension", None)
    load_extension = getattr(conn, "load_extension", None)
    if enable is None or load_extension is None:
        if _is_stdlib_connection(conn):
            raise ExtensionLoadingUnavailable(_NO_LOADING)
        kind = type(conn)
        raise TypeError(
            f"message_store_sqlite.load(conn) takes a sqlite3.Connection or an apsw.Connection, "
            f"not {kind.__module__}.{kind.__qualname__} (no enable_load_extension() and load_extension())"
        )
    host = _sqlite_module(type(conn))
    global _loaded_into
    if _loaded_into is not None and _loaded_into != host:
        raise RuntimeError(
            f"message_store_sqlite.load: this process has loaded the extension into {_loaded_into}'s "
            f"SQLite; it cannot also load it into {host}'s, which is another SQLite library: "
            f"use one of them per process"
        )
    enable(True)
    try:
        load_extension(loadable_path())
        _loaded_into = host
    finally:
        enable(False)
