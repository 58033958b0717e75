"""Console scripts: each pyproject entry point is the main of its tools/ shim."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from testing_utils import REPO_ROOT

with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as handle:
    SCRIPTS = tomllib.load(handle)["project"]["scripts"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_entry_point_is_a_main_function(name):
    module, function = SCRIPTS[name].split(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("tool", sorted(name[:-3] for name in os.listdir(os.path.join(REPO_ROOT, "tools")) if name.endswith(".py")))
def test_every_tool_is_a_shim_of_the_same_main(tool):
    path = os.path.join(REPO_ROOT, "tools", f"{tool}.py")
    text = open(path, encoding="utf-8").read()
    assert f"from fdkd_tf.cli.{tool} import main" in text and "sys.path" not in text
    assert len(text.splitlines()) <= 10


def test_installed_commands_run():
    command = shutil.which("fdkd-train", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if command is None:
        pytest.skip("the package is not installed with its scripts (pip install -e .)")
    result = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--config" in result.stdout


def test_prepare_dispatches_by_dataset_and_names_an_unknown_one(capsys):
    from fdkd_tf.cli import prepare

    assert prepare.main(["imagenet"]) == 2
    assert "unknown dataset 'imagenet'; choose one of ave, cremad, crisismmd, nyudv2, spoken_digits, vggsound" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(["ave", "--help"])
    assert exit_info.value.code == 0 and "--src" in capsys.readouterr().out
