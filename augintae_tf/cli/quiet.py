"""TensorFlow's own chatter kept off the terminal, unless asked for (``--verbose``).

Two kinds of lines reach a user's terminal from TensorFlow's C++ runtime:

* log lines after logging is set up (``I0000 ... cpu_feature_guard.cc`` and the like), which
  ``TF_CPP_MIN_LOG_LEVEL=2`` filters (errors still show);
* lines printed while ``import tensorflow`` loads its shared libraries, before logging is set
  up (``WARNING: All log messages before absl::InitializeLog() ...`` and ``port.cc ... oneDNN
  custom operations are on``, twice), which no variable filters in TensorFlow 2.21.  For those
  the first import of TensorFlow runs with file descriptor 2 pointed at ``/dev/null``; Python's
  own ``sys.stderr`` stays on the terminal meanwhile (a dup of the real descriptor), so Python
  warnings and tracebacks of that import still show.

A user's own ``TF_CPP_MIN_LOG_LEVEL`` decides how much TensorFlow logs, read as TensorFlow reads
it: ``0`` or ``1`` asks for more than the quiet level (INFO / WARNING lines), so nothing is hidden,
as with ``--verbose``; ``2`` or ``3`` is kept as the user set it, and the import is still silenced
(no variable filters those lines, so a user who set ``2`` to be rid of TensorFlow's chatter got
them back); anything else (empty, not an integer) is not a level and the quiet level replaces it.
The library never does this on its own (only the CLI installs it).
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys

LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LEVEL = "2"  # hides INFO and WARNING lines; ERROR and FATAL still show


@contextlib.contextmanager
def c_stderr_to_devnull():
    """File descriptor 2 on ``/dev/null`` (what C/C++ code writes to stderr is dropped) while
    Python's ``sys.stderr`` keeps writing to the real stderr."""
    python_stderr = sys.stderr
    python_stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    # A stream on a copy of the real descriptor: closing it later leaves `saved` open.
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                           errors="backslashreplace")
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


class QuietImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A meta-path finder that wraps the loader of one top-level module (``tensorflow``) so
    its first import runs under :func:`c_stderr_to_devnull`; it removes itself on first use."""

    def __init__(self, name: str = "tensorflow"):
        self.name, self.loader = name, None

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        self.uninstall()  # from here on the ordinary finders do everything
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.loader
        with c_stderr_to_devnull():
            self.loader.exec_module(module)

    def install(self) -> "QuietImport":
        if self.name not in sys.modules and self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        return self

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


_HOOK = QuietImport()
_SET_HERE = False  # whether LEVEL_ENV is ours (then --verbose may take it back)


def user_level(environ=os.environ) -> int | None:
    """The level the user set in :data:`LEVEL_ENV` (an integer), or None (unset, or not a
    level; a value this module set is not the user's)."""
    raw = environ.get(LEVEL_ENV, "")
    if _SET_HERE or not raw.strip().lstrip("-").isdigit():
        return None
    return int(raw)


def quiet_tensorflow(environ=os.environ) -> bool:
    """Before TensorFlow is imported: filter its C++ log lines and silence its import, unless
    the user's :data:`LEVEL_ENV` asks for more logging (module doc). Returns whether it did."""
    global _SET_HERE
    level = user_level(environ)
    if level is not None and level < int(QUIET_LEVEL):
        return False  # the user asked for TensorFlow's INFO / WARNING lines
    if level is None:
        environ[LEVEL_ENV] = QUIET_LEVEL
        _SET_HERE = True
    _HOOK.install()
    return True


def verbose_tensorflow(environ=os.environ) -> None:
    """Undo :func:`quiet_tensorflow` (``--verbose``): TensorFlow logs as it does by default."""
    global _SET_HERE
    if _SET_HERE:
        environ.pop(LEVEL_ENV, None)
        _SET_HERE = False
    _HOOK.uninstall()
