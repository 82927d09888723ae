"""The shape of the house (DESIGN.md): imports point down the layers only, and the layers
above the models read what a model declares instead of guessing it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import disentangle

PACKAGE = Path(disentangle.__file__).parent
#: top-level part -> the parts of the package it must not import
FORBIDDEN = {
    "metrics": {"models", "nets", "train", "scoring", "viz", "sweep", "reproduce", "cli"},
    "data": {"models", "nets", "train", "metrics", "scoring", "viz", "sweep", "reproduce", "cli"},
    "nets": {"models", "train", "metrics", "scoring", "viz", "sweep", "reproduce", "cli"},
    "models": {"train", "metrics", "scoring", "viz", "sweep", "reproduce", "cli"},
    "train": {"scoring", "viz", "sweep", "reproduce", "cli"},
    "scoring": {"viz", "sweep", "reproduce", "cli"},
    "viz": {"sweep", "reproduce", "cli"},
    "sweep": {"viz", "reproduce", "cli"},
}
#: the foundations every layer may use, which use no layer themselves
for _foundation in ("errors", "resources", "compiled", "run_folder"):
    FORBIDDEN[_foundation] = {"data", "nets", "models", "train", "metrics", "scoring", "viz", "sweep", "reproduce",
                              "cli"}
#: the model modules that hold one family each; layers above import none of them
FAMILIES = {
    path.stem for path in (PACKAGE / "models").glob("*.py") if path.stem not in ("__init__", "base", "gaussian")
}


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _part(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(path: Path) -> set[str]:
    """The ``disentangle.X...`` modules ``path`` imports, as dotted names without the prefix."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("disentangle."):
            names.add(node.module.removeprefix("disentangle."))
            names.update(f"{node.module.removeprefix('disentangle.')}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name.removeprefix("disentangle.") for a in node.names if a.name.startswith("disentangle."))
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    forbidden = FORBIDDEN.get(_part(path), set())
    wrong = sorted(name for name in _imported(path) if name.split(".")[0] in forbidden)
    assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"


@pytest.mark.parametrize(
    "path", [p for p in _modules() if _part(p) not in ("models", "nets", "data", "metrics", "train")],
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_layers_above_the_models_import_no_family_and_guess_nothing(path):
    families = sorted(name for name in _imported(path) if name.startswith("models.") and name.split(".")[1] in FAMILIES)
    assert not families, f"{path.relative_to(PACKAGE)} imports model families {families}"
    calls = [node for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "hasattr"]
    assert not calls, f"{path.relative_to(PACKAGE)} tests hasattr on line {calls[0].lineno}"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    """What two modules share is public in the module that holds it (``train.steps`` for
    the two training loops), never a private helper reached into."""
    private = sorted(
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("disentangle")
        for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")
    )
    assert not private, f"{path.relative_to(PACKAGE)} imports private names {private}"


def test_the_old_evaluate_module_the_readme_once_showed_still_works_and_says_where_it_went():
    import importlib
    import sys

    sys.modules.pop("disentangle.evaluate", None)
    with pytest.warns(DeprecationWarning, match="disentangle.scoring.evaluate"):
        old = importlib.import_module("disentangle.evaluate")
    from disentangle.scoring.evaluate import evaluate

    assert old.evaluate is evaluate
