"""Per-stage checkpoints: resume where a killed run stopped, keep the best on validation.

Each stage directory holds ``last.weights.h5`` (the whole distiller: students,
heads, projections and the optimizer state, after the last finished epoch),
``state.json`` (that epoch, the best validation scores so far: ``val_accuracy``,
or ``val_miou`` for segmentation, whether the stage is finished) and ``best_<name>.weights.h5`` per student. Selection uses the
validation split only; the test split is never looked at during training.
"""

from __future__ import annotations

import os

import keras

from fdkd_tf.files import atomic_path, read_json, write_json


def _best_weights_path(directory: str, name: str) -> str:
    return os.path.join(directory, f"best_{name}.weights.h5")


def score_key(monitor: str) -> str:
    """Key of the best score in ``state.json`` for a monitored metric:
    ``val_miou`` for mean IoU (``val_miou``, ``val_<name>_miou``), else ``val_accuracy``."""
    return "val_miou" if monitor.endswith("miou") else "val_accuracy"


class StageCheckpoint(keras.callbacks.Callback):
    """Saves the best student(s) on validation accuracy (or mIoU) and a resumable state.

    Args:
        directory: the stage's checkpoint directory.
        monitors: ``{student name: (validation metric key, student model)}``, e.g.
            ``{"fou": ("val_acc", student)}`` or ``{"depth": ("val_miou", student)}``.
        epochs: total epochs of the stage (to mark it finished).
        state: the state restored by `restore_stage` (None for a fresh stage).
    """

    def __init__(self, directory: str, monitors: dict, epochs: int, state: dict | None = None):
        super().__init__()
        self.directory = directory
        self.monitors = monitors
        self.epochs = epochs
        self.state = state or {
            "epoch": 0,
            "finished": False,
            "best": {name: {score_key(key): None, "epoch": None} for name, (key, _) in monitors.items()},
        }

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for name, (key, student) in self.monitors.items():
            if key not in logs:
                raise KeyError(f"validation metric {key!r} missing from the logs; got {sorted(logs)}")
            value = float(logs[key])
            best = self.state["best"][name]
            score = score_key(key)
            if best[score] is None or value > best[score]:
                best.update({score: value, "epoch": epoch + 1})
                with atomic_path(_best_weights_path(self.directory, name)) as temporary:
                    student.save_weights(temporary)
        with atomic_path(os.path.join(self.directory, "last.weights.h5")) as temporary:
            self.model.save_weights(temporary)
        self.state["epoch"] = epoch + 1
        self.state["epochs"] = self.epochs
        self.state["finished"] = epoch + 1 >= self.epochs
        write_json(os.path.join(self.directory, "state.json"), self.state)


def restore_stage(directory: str, model: keras.Model) -> dict | None:
    """Loads the last finished epoch of a stage into ``model`` (weights + optimizer).

    ``model`` must be compiled. Returns the saved state, or None for a new stage.
    """
    state = read_json(os.path.join(directory, "state.json"))
    if state is None:
        return None
    last = os.path.join(directory, "last.weights.h5")
    if not os.path.exists(last):
        raise FileNotFoundError(
            f"{directory}/state.json exists but {last} is missing; delete the stage "
            "directory to restart this stage"
        )
    model.optimizer.build(model.trainable_variables)
    model.load_weights(last)
    return state


def load_best(directory: str, name: str, student: keras.Model) -> None:
    """Loads the best-on-validation weights of student ``name`` into ``student``."""
    path = _best_weights_path(directory, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no best checkpoint for {name!r} at {path}")
    student.load_weights(path)


def progress(checkpoints_root: str) -> str:
    """Where a run stands, for one line after an interruption: the stage written last
    and its finished epochs, e.g. ``stage 'distill' after epoch 3 of 10``."""
    states = []
    if os.path.isdir(checkpoints_root):
        for stage in os.listdir(checkpoints_root):
            path = os.path.join(checkpoints_root, stage, "state.json")
            if os.path.isfile(path):
                states.append((os.path.getmtime(path), stage, read_json(path)))
    if not states:
        return "before the first epoch finished"
    _, stage, state = max(states)
    total = f" of {state['epochs']}" if state.get("epochs") else ""
    done = " (finished)" if state.get("finished") else ""
    return f"stage {stage!r} after epoch {state['epoch']}{total}{done}"
