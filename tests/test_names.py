"""Every dotted name and source path that the code's comments and the docs mention exists.

Read statically (nothing is imported): ``augintae_tf.a.b.c`` resolves when its longest prefix is
a module or package of the tree and the rest names, in order, a top-level definition of that
module (function, class, assignment or import, or a name the package loads lazily: a string of
its ``_HOMES`` table, PEP 562) and members of that class. A path such as
``models/latent_stats.py`` or ``augintae_tf/run/layout.py`` resolves when the file is in the
package; ``tests/test_x.py`` and ``benchmarks/x.py`` when the file is in the repository.
"""
import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "augintae_tf"
SUBPACKAGES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
DOTTED = re.compile(r"\baugintae_tf(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
PATH = re.compile(r"(?<![\w/.-])((?:augintae_tf/)?(?:%s)/(?:[a-z_0-9]+/)*[a-z_0-9]+\.py|(?:tests|benchmarks)/"
                  r"[a-z_0-9]+\.py)" % "|".join(SUBPACKAGES))


# Names that are not modules: a click ``ctx.meta`` key, and the family that docs/adding-a-model.md
# writes into a copy of the package (tests/test_adding_a_model.py): every name under it.
NOT_MODULES = {"augintae_tf.verbose"}
NOT_MODULE_PREFIXES = ("augintae_tf.models.denoise", "augintae_tf/models/denoise/", "models/denoise/")


def texts():
    """(file, text) of every package module, test (but this one), benchmark, README.md and
    docs/*.md."""
    files = [*sorted(PACKAGE.rglob("*.py")), *sorted(p for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name),
             *sorted((ROOT / "benchmarks").glob("*.py")), ROOT / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]
    for path in files:
        yield path.relative_to(ROOT).as_posix(), path.read_text()


@lru_cache(maxsize=None)
def definitions(module_file: Path) -> dict:
    """Top-level names of a module -> the names its class body defines (empty for non-classes)."""
    tree = ast.parse(module_file.read_text())
    names = {}
    for node in tree.body:
        for name, members in _defined(node):
            names[name] = members
    return names


def _defined(node):
    if isinstance(node, ast.ClassDef):
        members = set()
        for item in node.body:
            members.update(name for name, _ in _defined(item))
        yield node.name, members
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield node.name, set()
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id == "_HOMES" for t in targets):
            # a lazy package's table: submodule -> the names it serves (augintae_tf/data)
            for leaf in ast.walk(node.value):
                if isinstance(leaf, ast.Tuple):
                    yield from ((item.value, set()) for item in leaf.elts
                                if isinstance(item, ast.Constant) and isinstance(item.value, str))
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name):
                    yield leaf.id, set()
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            yield (alias.asname or alias.name).split(".")[0], set()
    elif isinstance(node, (ast.If, ast.Try)):
        for item in [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]:
            yield from _defined(item)


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        module = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if module.is_file():
            break
    else:
        return False
    rest = parts[cut:]
    if not rest:
        return True
    names = definitions(module)
    if rest[0] not in names:
        return False
    return len(rest) == 1 or (len(rest) == 2 and rest[1] in names[rest[0]])


def path_exists(path: str) -> bool:
    if path.startswith(("tests/", "benchmarks/", "augintae_tf/")):
        return (ROOT / path).is_file()
    return (PACKAGE / path).is_file()


def test_every_dotted_name_and_path_mentioned_exists():
    missing = set()
    for name, text in texts():
        for dotted in set(DOTTED.findall(text)) - NOT_MODULES:
            if not dotted.endswith("__file__") and not dotted.startswith(NOT_MODULE_PREFIXES) \
                    and not resolves(dotted):
                missing.add(f"{name}: {dotted}")
        for path in set(PATH.findall(text)) - NOT_MODULES:
            if not path.startswith(NOT_MODULE_PREFIXES) and not path_exists(path):
                missing.add(f"{name}: {path}")
    assert not sorted(missing), "\n".join(sorted(missing))


@pytest.mark.parametrize("dotted, expected", [
    ("augintae_tf.latent", True), ("augintae_tf.run.layout", True), ("augintae_tf.nowhere", False),
    ("augintae_tf.errors.UserError", True), ("augintae_tf.errors.NoSuchName", False),
    ("augintae_tf.data.load_split", True), ("augintae_tf.data.load_splits", False),
])
def test_the_resolver_tells_a_real_name_from_a_missing_one(dotted, expected):
    assert resolves(dotted) is expected
