"""The output folders of the commands that write into a folder the user names (``generate``,
``reconstruct``, ``export-seeds``, ``evaluate --out``, ``compare --out``): only this tool's own files
are ever removed or replaced, and what it writes is recorded in ``OUT/.generated.json`` before
anything is written.  TensorFlow-free: the CLI checks ``--out`` before loading a run.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Sequence

from augintae_tf import atomic
from augintae_tf.errors import RunError

GENERATED = re.compile(r"^(\d{5,}|grid)\.png$")  # the names write_generation uses
MANIFEST = ".generated.json"  # OUT's files an earlier generation wrote: all --overwrite removes


def prepare_out(out_dir: str | os.PathLike, overwrite: bool, names: list[str]) -> Path:
    """Make ``out_dir`` ready for a generation that writes ``names``; returns it.

    A non-empty folder is refused unless ``overwrite``; then the files an earlier generation
    recorded in ``OUT/.generated.json`` are removed, and a folder holding a file of a generated
    name that no generation recorded (a user's own ``00000.png``) is refused, naming it: only
    this tool's own files are ever removed or replaced. The new manifest is written (atomically)
    before any image, so a killed generation's files are recorded too.
    """
    out_dir = Path(out_dir)
    for name in check_out(out_dir, overwrite, names):
        atomic.refuse_link(out_dir / name)
        (out_dir / name).unlink(missing_ok=True)
    atomic.safe_dir(out_dir, out_dir.parent)
    atomic.write_json(out_dir / MANIFEST, {"files": sorted(names)}, what="the generation manifest")
    return out_dir


def undo_out(out_dir: Path, names: Sequence[str], remove_folder: bool) -> None:
    """After a failed write into a folder that was empty (or absent, ``remove_folder``): remove
    ``names`` (what the command records and writes; links are not followed) and the folder, so
    the same command can be retried."""
    if not out_dir.is_dir() or out_dir.is_symlink():
        return
    for name in names:
        path = out_dir / name
        if path.is_file() or path.is_symlink():
            path.unlink(missing_ok=True)
    for stale in out_dir.glob(".*.tmp*"):  # an atomic write cut short
        if stale.is_file():
            stale.unlink(missing_ok=True)
    if remove_folder:
        try:
            out_dir.rmdir()
        except OSError:  # something else was written there meanwhile: keep it
            pass


def claim_out(out_dir: str | os.PathLike, names: Sequence[str]) -> Path:
    """For commands that add a fixed set of files to a folder that may hold the user's own
    (``evaluate --out``, ``compare --out``): make it (never through a link), refuse a file of
    one of ``names`` that ``OUT/.generated.json`` does not list, naming it, then record
    ``names`` there beside what it listed. A rerun replaces only the files it recorded."""
    out_dir = Path(out_dir)
    atomic.refuse_link(out_dir, "directory")
    recorded = _recorded(out_dir) if out_dir.is_dir() else []
    for name in names:
        if os.path.lexists(out_dir / name) and name not in recorded:
            raise RunError(f"--out {out_dir}: refusing to replace {out_dir / name}, which "
                           f"augintae-tf did not write (not listed in {out_dir / MANIFEST}); "
                           "choose another folder or move it")
    atomic.safe_dir(out_dir, out_dir.parent)
    atomic.write_json(out_dir / MANIFEST, {"files": sorted({*recorded, *names})},
                      what="the output manifest")
    return out_dir


def check_out(out_dir: str | os.PathLike, overwrite: bool, names: list[str]) -> list[str]:
    """The checks of :func:`prepare_out` (nothing is changed); returns the recorded names it
    would remove. The CLI calls it before loading the run."""
    out_dir = Path(out_dir)
    atomic.refuse_link(out_dir, "directory")
    if not (out_dir.is_dir() and any(out_dir.iterdir())):
        return []
    if not overwrite:
        raise RunError(f"--out {out_dir} is not empty; choose an empty folder or pass --overwrite")
    recorded, names = _recorded(out_dir), set(names)
    for path in sorted(out_dir.iterdir()):
        if (GENERATED.match(path.name) or path.name in names) and path.name not in recorded:
            raise RunError(f"--out {out_dir}: --overwrite refuses to replace {path}, which no "
                           f"earlier generation wrote (not listed in {out_dir / MANIFEST}); "
                           "choose another folder or move it")
    return recorded


def _recorded(out_dir: Path) -> list[str]:
    """The plain file names ``OUT/.generated.json`` lists ([] without one); a damaged manifest
    is a RunError naming it (nothing is removed on a guess)."""
    path = out_dir / MANIFEST
    if not path.exists():
        return []
    atomic.refuse_link(path)
    try:
        files = json.loads(path.read_text())["files"]
        if not all(isinstance(f, str) and f == Path(f).name and f != MANIFEST for f in files):
            raise ValueError("not a list of file names")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path} is damaged ({exc}); delete it, or choose an empty --out") from None
    return files


def generated_names(num: int) -> list[str]:
    """The files a generation (or a reconstruction) of ``num`` images writes: ``00000.png``...
    and ``grid.png``."""
    return [f"{i:05d}.png" for i in range(num)] + ["grid.png"]


def seed_names(num: int) -> list[str]:
    """The files ``export-seeds`` writes: ``seed-00.png``..."""
    return [f"seed-{i:02d}.png" for i in range(num)]

