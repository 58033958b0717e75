"""Imports run one way: a package of fdkd_tf imports only packages below it.

The order is the one docs/architecture.md draws ("Layers"); a module that needs
something from a layer above has found a helper in the wrong place.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

from testing_utils import REPO_ROOT

#: bottom first; a package may import itself and anything before it.
LAYERS = ("settings", "files", "layers", "losses", "models", "distillers", "config", "data", "analysis", "export", "training", "tuning", "cli")
PACKAGE = pathlib.Path(REPO_ROOT) / "fdkd_tf"


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # function-level imports too
        if isinstance(node, ast.ImportFrom) and node.module == "fdkd_tf":  # from fdkd_tf import distillers
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fdkd_tf."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("fdkd_tf."):
                    yield alias.name.split(".")[1], node.lineno


def _layer(path: pathlib.Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def test_every_package_is_in_the_layer_order():
    packages = {_layer(path) for path in PACKAGE.rglob("*.py")} - {"__init__"}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_a_layer_above_its_own(layer):
    rank = {name: index for index, name in enumerate(LAYERS)}
    upward = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports fdkd_tf.{other}"
        for path in sorted(PACKAGE.rglob("*.py")) if _layer(path) == layer
        for other, line in _imports(path) if other in rank and rank[other] > rank[layer]
    ]
    assert not upward, "; ".join(upward)
