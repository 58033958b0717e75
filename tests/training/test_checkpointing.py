"""Nothing lost, nothing silently wrong: exact resume after a kill anywhere in an
epoch or a checkpoint write, corrupt checkpoints set aside, one run per directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from fdkd_tf.config import load_config
from fdkd_tf.files import RunDirectoryBusy, RunLock
from fdkd_tf.training import checkpointing, experiment

# Deterministic mode, a real shuffle (the default buffer) and dropout in the student:
# every source of run-to-run difference a resume could get wrong.
EXACT = [
    "experiment.deterministic=true",
    "teacher.epochs=2",
    "train.epochs=3",
    "train.verbose=0",
    "model.teacher.filters=[8]",
    "model.teacher.feature_dim=16",
    "model.student.hidden_units=[16]",
    "model.student.feature_dim=16",
    "model.student.dropout=0.3",
]


class Killed(BaseException):
    """Stands for SIGKILL in process: nothing after it runs (not even `except Exception`)."""


@pytest.fixture(scope="module", autouse=True)
def op_determinism_off_afterwards():
    """experiment.deterministic turns on TF op determinism for the process; switch it
    back off so the tests after these run as they do alone."""
    yield
    from tensorflow.python.framework import config as tf_config

    tf_config.disable_op_determinism()


def _config(repo_root, *extra):
    return load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), EXACT + list(extra))


def _student_weights(run_dir):
    return keras.saving.load_model(os.path.join(run_dir, "student.keras")).get_weights()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from testing_utils import REPO_ROOT as repo_root

    """The uninterrupted run every resumed run must equal, to the bit."""
    run_dir = str(tmp_path_factory.mktemp("reference"))
    metrics = experiment.run_experiment(_config(repo_root), run_dir)
    return run_dir, metrics


def _assert_same_run(run_dir, reference):
    reference_dir, reference_metrics = reference
    for a, b in zip(_student_weights(reference_dir), _student_weights(run_dir)):
        assert np.max(np.abs(a - b)) == 0.0
    resumed = json.loads(open(os.path.join(run_dir, "metrics.json")).read())
    for key in ("teacher", "student"):
        assert {k: v for k, v in resumed[key].items()} == {k: v for k, v in reference_metrics[key].items()}


def _kill_in_commit(monkeypatch, stage: str, epoch: int, after_state: bool):
    original = checkpointing.commit

    def commit(directory, state, previous):
        if directory.endswith(stage) and state["epoch"] == epoch:
            if after_state:  # state.json replaced, the stable best names and pruning not yet done
                checkpointing.write_json(os.path.join(directory, checkpointing.STATE_FILE), state)
            raise Killed()
        return original(directory, state, previous)

    monkeypatch.setattr(checkpointing, "commit", commit)


@pytest.mark.parametrize(
    "stage, epoch, after_state",
    [("teacher_pix", 1, False), ("distill", 2, False), ("distill", 2, True)],
    ids=["stage1-weights-written-state-not", "stage2-weights-written-state-not", "stage2-state-committed"],
)
def test_a_kill_inside_the_checkpoint_write_resumes_to_the_uninterrupted_run(
    repo_root, tmp_path, monkeypatch, reference, stage, epoch, after_state
):
    run_dir = str(tmp_path / "run")
    _kill_in_commit(monkeypatch, stage, epoch, after_state)
    with pytest.raises(Killed):
        experiment.run_experiment(_config(repo_root), run_dir)
    monkeypatch.undo()
    state_path = os.path.join(run_dir, "checkpoints", stage, "state.json")
    committed = epoch if after_state else epoch - 1
    if committed:
        assert json.loads(open(state_path).read())["epoch"] == committed
    else:
        assert not os.path.exists(state_path)
    experiment.run_experiment(_config(repo_root), run_dir)
    _assert_same_run(run_dir, reference)
    left = os.listdir(os.path.join(run_dir, "checkpoints", "distill"))
    assert not [name for _, _, names in os.walk(run_dir) for name in names if name.startswith(".tmp-")]
    assert sorted(n for n in left if n.startswith("last.")) == ["last.e0002.weights.h5", "last.e0003.weights.h5"]


def test_a_kill_in_the_middle_of_an_epoch_resumes_to_the_uninterrupted_run(repo_root, tmp_path, monkeypatch, reference):
    """Mid-epoch: the resumed stage restarts that epoch from the last commit, with
    the same batches and dropout masks (epoch-seeded pipelines, saved seed states)."""

    class KillMidEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.params.get("epochs") == 2 and batch == 5:  # epoch 2 of stage 2, its sixth batch
                raise Killed()

    original_fit = keras.Model.fit

    def fit(self, *args, **kwargs):
        if not self.name.endswith("_trainer"):  # the distiller, not a stage-1 teacher trainer
            kwargs["callbacks"] = list(kwargs["callbacks"]) + [KillMidEpoch()]
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    run_dir = str(tmp_path / "run")
    with pytest.raises(Killed):
        experiment.run_experiment(_config(repo_root), run_dir)
    monkeypatch.undo()
    experiment.run_experiment(_config(repo_root), run_dir)
    _assert_same_run(run_dir, reference)


def test_a_truncated_checkpoint_is_set_aside_and_the_previous_one_used(repo_root, tmp_path, monkeypatch, reference, capsys):
    run_dir = str(tmp_path / "run")
    _kill_in_commit(monkeypatch, "distill", 3, after_state=False)
    with pytest.raises(Killed):
        experiment.run_experiment(_config(repo_root), run_dir)
    monkeypatch.undo()
    stage = os.path.join(run_dir, "checkpoints", "distill")
    last = os.path.join(stage, "last.e0002.weights.h5")
    with open(last, "r+b") as handle:  # a disk that lost the end of the file
        handle.truncate(os.path.getsize(last) // 3)
    strays = [os.path.join(stage, ".tmp-abc.weights.h5"), os.path.join(run_dir, "logs", ".tmp-def.json")]
    for stray in strays:  # what a SIGKILL inside atomic_path leaves
        with open(stray, "wb") as handle:
            handle.write(b"half")
    capsys.readouterr()
    experiment.run_experiment(_config(repo_root), run_dir)
    notice = capsys.readouterr().err
    assert "last.e0002.weights.h5 cannot be loaded" in notice and "set aside as last.e0002.weights.h5.corrupt" in notice
    assert os.path.exists(last + ".corrupt")
    assert not any(os.path.exists(stray) for stray in strays)
    _assert_same_run(run_dir, reference)  # epoch 2 retrained from epoch 1, exactly


def test_an_unreadable_state_file_falls_back_and_an_empty_stage_restarts(tmp_path, capsys):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    (tmp_path / "state.json").write_text('{"epoch": 2, "last": "last.e0002.wei')
    assert checkpointing.restore_stage(str(tmp_path), model) is None
    err = capsys.readouterr().err
    assert "state.json cannot be read" in err and "restarting this stage" in err
    assert (tmp_path / "state.json.corrupt").exists() and not (tmp_path / "state.json").exists()


def test_a_second_process_on_a_locked_directory_stops_at_once(repo_root, tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunDirectoryBusy, match=rf"in use by process {os.getpid()}.*another --output-dir"):
            experiment.run_experiment(_config(repo_root), str(tmp_path))
    assert not (tmp_path / "config.yaml").exists()


def test_the_lock_of_a_killed_holder_does_not_block(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from fdkd_tf.files import RunLock; lock = RunLock(sys.argv[1]).acquire(); "
         "print('held', flush=True); time.sleep(600)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunDirectoryBusy, match=str(holder.pid)):
        RunLock(str(tmp_path)).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    RunLock(str(tmp_path)).acquire().release()


def test_a_directory_without_a_finished_epoch_is_taken_over_by_a_corrected_config(repo_root, tmp_path, capsys):
    bad = _config(repo_root, f"teacher.checkpoint={tmp_path / 'missing.weights.h5'}")  # fails after the data load
    with pytest.raises(FileNotFoundError):
        experiment.run_experiment(bad, str(tmp_path))
    assert (tmp_path / "config.yaml").exists() and not (tmp_path / "checkpoints").exists()
    experiment.run_experiment(_config(repo_root, "train.epochs=1", "teacher.epochs=1"), str(tmp_path))
    assert "takes it over" in capsys.readouterr().out
    with pytest.raises(ValueError, match="different config .* with finished epochs"):
        experiment.run_experiment(_config(repo_root, "train.epochs=2", "teacher.epochs=1"), str(tmp_path))


def test_a_finished_run_says_so_and_returns_its_metrics(repo_root, reference, capsys, monkeypatch):
    run_dir, metrics = reference
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("a finished run trained again"))
    again = experiment.run_experiment(_config(repo_root, "train.verbose=2"), run_dir)
    assert again == json.loads(json.dumps(metrics))
    assert "is a finished run" in capsys.readouterr().out


def test_a_kill_inside_the_checkpoint_write_resumes_exactly_in_mixed_precision(repo_root, tmp_path, monkeypatch):
    """The commit and the restored random state hold under mixed_bfloat16 too (float32
    variables, bfloat16 compute): the resumed run equals the uninterrupted one exactly."""
    extra = ("train.precision=mixed_bfloat16",)
    reference_dir = str(tmp_path / "reference")
    reference_metrics = experiment.run_experiment(_config(repo_root, *extra), reference_dir)
    run_dir = str(tmp_path / "run")
    _kill_in_commit(monkeypatch, "distill", 2, after_state=False)
    with pytest.raises(Killed):
        experiment.run_experiment(_config(repo_root, *extra), run_dir)
    monkeypatch.undo()
    experiment.run_experiment(_config(repo_root, *extra), run_dir)
    _assert_same_run(run_dir, (reference_dir, reference_metrics))
