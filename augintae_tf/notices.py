"""Warnings meant for the user (a file skipped, a folder's stray images), said once per command.

The library says such things with :func:`warn`: a Python warning of category :class:`Notice`
(a ``UserWarning``), so a program using the library can filter, record or raise them like any
other.  A folder is read several times by one command (its shape is inferred, then its images are
loaded for training, sampling and the post-training stages), so the same file would be named at
every pass; inside :func:`once_per_command` each notice is said once (keyed by what it is about),
as one line ``warning: MESSAGE`` on stderr without Python's ``file:line:`` prefix and echoed source
line, and the warnings of Pillow (which name no file) are dropped.  Outside it every call warns.
Every ``augintae-tf`` command runs inside it.  TensorFlow-free.
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
import warnings


class Notice(UserWarning):
    """A one-line warning for the user that names what it is about."""


_SAID: contextvars.ContextVar[set | None] = contextvars.ContextVar("augintae_notices", default=None)


def warn(message: str, key: object = None, stacklevel: int = 3) -> None:
    """Warn ``message`` (a :class:`Notice`), unless the current :func:`once_per_command` scope
    has already said one with the same ``key`` (default: the message)."""
    said = _SAID.get()
    if said is not None:
        key = message if key is None else key
        if key in said:
            return
        said.add(key)
    warnings.warn(message, Notice, stacklevel=stacklevel)


@contextlib.contextmanager
def once_per_command():
    """Each notice said once while inside, as one line ``warning: ...`` on ``sys.stderr``;
    Pillow's own warnings ignored (module doc)."""
    token = _SAID.set(set())
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, Notice):
                sys.stdout.flush()  # after what the command printed before it, in a pipe too
                print(f"warning: {message}", file=sys.stderr, flush=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.filterwarnings("always", category=Notice)  # the scope does the once
        warnings.filterwarnings("ignore", module=r"PIL(\.|$)")
        try:
            yield
        finally:
            _SAID.reset(token)
