"""Reading config files: the one bounded YAML loader of ``--config`` files, the presets and a
run's ``config.yaml``, and the presets themselves (``augintae_tf/config/presets/NAME.yaml``).

A file that is not a regular file, too large, not UTF-8 or not plain YAML (an alias, deep
nesting) is one :class:`~augintae_tf.errors.ConfigError` naming it, never a traceback, a hang or
gigabytes of memory.
"""
from __future__ import annotations

import os
import stat
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from augintae_tf.config.schema import SECTIONS
from augintae_tf.errors import ConfigError

MAX_YAML_BYTES = 1 << 20  # a config is a few hundred bytes; anything this large is not one
MAX_YAML_DEPTH = 20  # a config nests 3 levels (section, field, list)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with aliases refused and nesting bounded: a "billion laughs" of
    nested aliases expands to gigabytes once walked, and 10,000 nested brackets exhaust Python's
    recursion in the composer. Both are refused while composing, before anything is built."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, f"uses the alias *{event.anchor}; augintae-tf configs do not expand "
                "aliases (write the value out)", event.start_mark)
        if self.depth >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nests deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, what: str) -> Any:
    """``text`` parsed by the bounded loader; any problem is one ConfigError naming ``what``
    (with line and column where YAML knows them)."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{what} is not valid YAML{where}: {problem}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(f"{what} holds a value that cannot be read: "
                          f"{str(exc).split(';')[0]}") from None


def read_yaml(path: str | os.PathLike, what: str | None = None) -> Any:
    """The YAML document in file ``path``, the one way a config file is read (``--config``, a
    run's ``config.yaml``): a regular file (a FIFO would block), at most
    :data:`MAX_YAML_BYTES`, UTF-8, parsed by :func:`parse_yaml`. Every problem (unreadable,
    wrong encoding, bad YAML) is one ConfigError naming the file."""
    what = what or f"config file {path}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what} is not a regular file")
        if info.st_size > MAX_YAML_BYTES:
            raise ConfigError(f"{what} has {info.st_size:,} bytes, more than a config may "
                              f"({MAX_YAML_BYTES:,})")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{what} cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} is not UTF-8 text (byte {exc.start}: "
                          f"{data[exc.start:exc.start + 1]!r}); save it as UTF-8") from None
    return parse_yaml(text, what)


# ---------------------------------------------------------------- presets
PRESETS = resources.files("augintae_tf.config").joinpath("presets")


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in PRESETS.iterdir() if p.name.endswith(".yaml"))


def read_preset(name_or_path: str) -> dict[str, Any]:
    """A preset by name, or a YAML config file by path, as written (a mapping of sections)."""
    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or (path.exists() and not path.is_dir()):
        if not path.exists():
            raise ConfigError(f"config file {name_or_path!r} does not exist")
        data = read_yaml(path, f"config {name_or_path!r}")
    else:
        if name_or_path not in preset_names():
            raise ConfigError(f"preset {name_or_path!r} is unknown; presets: {', '.join(preset_names())}"
                              " (or give a path to a .yaml file)")
        text = PRESETS.joinpath(f"{name_or_path}.yaml").read_text()
        data = parse_yaml(text, f"config {name_or_path!r}")
    if not isinstance(data, dict):
        raise ConfigError(f"config {name_or_path!r} must be a mapping of sections "
                          f"{sorted(SECTIONS)}, got {kind_of(data)}")
    for section, fields in data.items():
        if section in SECTIONS and not isinstance(fields, dict):
            raise ConfigError(section_error(f"config {name_or_path!r}", section, fields))
    return data


def kind_of(value: Any) -> str:
    """What a YAML value is, for an error message: ``a list [1, 2]``, ``an integer 5``..."""
    if value is None:
        return "nothing (null)"
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping"}
    shown = repr(value)
    return (f"{kinds.get(type(value), type(value).__name__)} "
            f"{shown if len(shown) <= 40 else shown[:37] + '...'}")


def section_error(origin: str, section: str, fields: Any) -> str:
    """The one line for a config section that is not a mapping of fields."""
    return (f"{origin}: section {section!r} must be a mapping of fields (FIELD: value, one per "
            f"line under `{section}:`), got {kind_of(fields)}")


def preset_section(name_or_path: str, section: str) -> dict[str, Any]:
    """One section of a preset (or YAML config) as written, unvalidated (empty if absent)."""
    return read_preset(name_or_path).get(section) or {}


def preset_dataset(name_or_path: str) -> str | None:
    """The dataset a preset (or YAML config) trains on (``data.dataset``), or None."""
    return preset_section(name_or_path, "data").get("dataset")
