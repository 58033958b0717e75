"""Per-stage checkpoints: resume where a killed run stopped, keep the best on validation.

Each epoch's checkpoint is committed in one atomic step, so state and weights never
disagree, whenever the process is killed:

1. the new weights go to files named by the epoch: ``last.e0005.weights.h5`` (the
   whole distiller: students, heads, projections and the optimizer) and, for a
   student that improved, ``best_<name>.e0005.weights.h5``;
2. ``state.json`` (the epoch, the files, the layers' random-generator states, which
   ``save_weights`` leaves out, the best validation scores so far: ``val_accuracy``,
   or ``val_miou`` for segmentation, whether the stage is finished)
   replaces the previous one with `os.replace`: this is the commit. The previous
   state is kept as ``state.prev.json`` with its files, so a checkpoint found
   truncated on resume falls back to the one before;
3. ``best_<name>.weights.h5`` (the stable name other tools read) is relinked to the
   committed best file, and files no state refers to are removed.

On resume, leftover temporary files are removed, and a state or weights file that
cannot be read is named, set aside as ``<file>.corrupt`` and the previous checkpoint
is used (or the stage restarts) with a one-line notice. Selection uses the
validation split only; the test split is never looked at during training.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from typing import Callable, Optional

import keras

from fdkd_tf.files import atomic_path, read_json, write_json

STATE_FILE = "state.json"
PREVIOUS_STATE_FILE = "state.prev.json"
LEGACY_LAST = "last.weights.h5"  # what runs written before the epoch-named files hold


def _stable_best_path(directory: str, name: str) -> str:
    return os.path.join(directory, f"best_{name}.weights.h5")


def score_key(monitor: str) -> str:
    """Key of the best score in ``state.json`` for a monitored metric:
    ``val_miou`` for mean IoU (``val_miou``, ``val_<name>_miou``), else ``val_accuracy``."""
    return "val_miou" if monitor.endswith("miou") else "val_accuracy"


def load_error_summary(error: BaseException) -> str:
    """A weights-loading error without the arrays and object lists Keras prints: how
    many layers failed, and the first mismatching layer or variable with its reason
    (for a checkpoint of another architecture)."""
    text = str(error)
    paragraphs = [re.sub(r"\s+", " ", part).strip() for part in re.split(r"\n\s*\n", text) if part.strip()]
    first = paragraphs[0] if paragraphs else type(error).__name__
    total = re.match(r"A total of (\d+) objects could not be loaded", first)
    if total and len(paragraphs) > 1:  # "... Example error message for object <X name=N>:" then the reason
        layer = re.search(r"name=([^,>\s]+)", first)
        where = f"the first is layer {layer.group(1)!r}" if layer else "the first"
        return f"{total.group(1)} layers do not match ({where}: {paragraphs[1]})"
    variable = re.search(r"path=([^,\s>]+)", text)
    first = re.split(r"Target variable:", first, maxsplit=1)[0].strip()
    return f"{first} (first mismatching variable: {variable.group(1)})" if variable else first


def _seed_generators(model: keras.Model) -> list:
    """The model's `keras.random.SeedGenerator`s (dropout, noise), in layer order."""
    layers = model._flatten_layers(include_self=True, recursive=True)
    return [generator for layer in layers for generator in getattr(layer, "_seed_generators", [])]


def random_state(model: keras.Model) -> list:
    """The layers' random-generator states: `save_weights` does not store them, and a
    resumed run must draw the dropout masks the killed one would have drawn."""
    return [[int(value) for value in generator.state.numpy()] for generator in _seed_generators(model)]


def restore_random_state(model: keras.Model, values: list) -> None:
    """Assigns states saved by `random_state` (in the same layer order)."""
    generators = _seed_generators(model)
    if len(generators) != len(values):
        _notice(f"the checkpoint holds {len(values)} random-generator states, the model has {len(generators)}; "
                "dropout masks will differ from the interrupted run")
        return
    for generator, value in zip(generators, values):
        generator.state.assign(value)


def _notice(message: str) -> None:
    print(f"notice: {message}", file=sys.stderr, flush=True)


def remove_temporaries(directory: str, recursive: bool = False) -> list[str]:
    """Removes the temporary files an interrupted `fdkd_tf.files.atomic_path` left in
    ``directory`` (and below it with ``recursive``: checkpoints, caches, exports)."""
    folders = [base for base, _, _ in os.walk(directory)] if recursive else [directory]
    leftovers = [path for folder in folders for path in glob.glob(os.path.join(folder, ".tmp-*"))]
    for path in leftovers:
        if os.path.isdir(path):
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    return leftovers


def _referenced(state: Optional[dict]) -> set:
    if not state:
        return set()
    files = {state.get("last")} | {best.get("file") for best in state.get("best", {}).values()}
    return {name for name in files if name}


def _publish_best(directory: str, state: dict) -> None:
    """Points each ``best_<name>.weights.h5`` at the committed best file (atomic relink)."""
    for name, best in state.get("best", {}).items():
        source = best.get("file")
        if not source:
            continue
        source_path, stable = os.path.join(directory, source), _stable_best_path(directory, name)
        if os.path.exists(stable) and os.path.samefile(source_path, stable):
            continue
        with atomic_path(stable) as temporary:
            try:
                os.link(source_path, temporary)
            except OSError:  # a file system without hard links
                import shutil

                shutil.copyfile(source_path, temporary)


def _prune(directory: str, keep: set) -> None:
    for pattern in ("last.e*.weights.h5", "best_*.e*.weights.h5"):
        for path in glob.glob(os.path.join(directory, pattern)):
            if os.path.basename(path) not in keep:
                os.remove(path)


def commit(directory: str, state: dict, previous: Optional[dict]) -> None:
    """Makes ``state`` (whose files are written) the stage's checkpoint, keeping ``previous``."""
    if previous is not None:
        write_json(os.path.join(directory, PREVIOUS_STATE_FILE), previous)
    write_json(os.path.join(directory, STATE_FILE), state)  # the commit
    _publish_best(directory, state)
    _prune(directory, _referenced(state) | _referenced(previous))


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
        self.previous = None
        self.state = state or {
            "epoch": 0,
            "finished": False,
            "best": {name: {score_key(key): None, "epoch": None} for name, (key, _) in monitors.items()},
        }
        os.makedirs(directory, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        tag = f"e{epoch + 1:04d}"
        state = json.loads(json.dumps(self.state))  # the committed state stays intact until the commit
        for name, (key, student) in self.monitors.items():
            if key not in logs:
                raise KeyError(f"validation metric {key!r} missing from the logs; got {sorted(logs)}")
            value = float(logs[key])
            best = state["best"][name]
            score = score_key(key)
            if best[score] is None or value > best[score]:
                best.update({score: value, "epoch": epoch + 1, "file": f"best_{name}.{tag}.weights.h5"})
                with atomic_path(os.path.join(self.directory, best["file"])) as temporary:
                    student.save_weights(temporary)
        state["last"] = f"last.{tag}.weights.h5"
        with atomic_path(os.path.join(self.directory, state["last"])) as temporary:
            self.model.save_weights(temporary)
        state.update(epoch=epoch + 1, epochs=self.epochs, finished=epoch + 1 >= self.epochs, random_state=random_state(self.model))
        commit(self.directory, state, self.state if self.state.get("last") else None)
        self.state = state


def _set_aside(path: str, why: str, then: str) -> None:
    target = f"{path}.corrupt"
    os.replace(path, target)
    _notice(f"{path} {why}; set aside as {os.path.basename(target)}, {then}")


def _candidates(directory: str):
    """(state file, state) pairs to try, newest first; unreadable state files are set aside."""
    for file_name in (STATE_FILE, PREVIOUS_STATE_FILE):
        path = os.path.join(directory, file_name)
        try:
            state = read_json(path)
        except (ValueError, UnicodeDecodeError) as error:
            _set_aside(path, f"cannot be read ({type(error).__name__})", "trying the previous checkpoint")
            continue
        if state is None:
            continue
        if not isinstance(state, dict) or "epoch" not in state:
            _set_aside(path, "is not a checkpoint state", "trying the previous checkpoint")
            continue
        yield path, state


def restore_stage(directory: str, model: keras.Model, log: Callable[[str], None] = _notice) -> dict | None:
    """Loads the newest readable checkpoint of a stage into ``model`` (weights + optimizer).

    ``model`` must be compiled. A truncated or unreadable weights file is set aside
    and the previous checkpoint is tried; when none loads, the stage restarts from
    ``model``'s current (initial) weights.

    Returns:
        The restored state, or None for a new (or restarted) stage.
    """
    if not os.path.isdir(directory):
        return None
    remove_temporaries(directory)
    model.optimizer.build(model.trainable_variables)
    initial = [variable.numpy() for variable in model.variables]
    tried = any(os.path.exists(os.path.join(directory, name)) for name in (STATE_FILE, PREVIOUS_STATE_FILE))
    for state_path, state in _candidates(directory):
        last = os.path.join(directory, state.get("last", LEGACY_LAST))
        if not os.path.exists(last):
            _notice(f"{state_path} names {last}, which is missing; trying the previous checkpoint")
            continue
        try:
            model.load_weights(last)
        except Exception as error:  # noqa: BLE001 - a truncated / corrupt h5 raises many kinds
            for variable, value in zip(model.variables, initial):
                variable.assign(value)
            _set_aside(last, f"cannot be loaded ({type(error).__name__})", "trying the previous checkpoint")
            continue
        restore_random_state(model, state.get("random_state", []))
        if os.path.basename(state_path) != STATE_FILE:  # fell back: make it the current state again
            write_json(os.path.join(directory, STATE_FILE), state)
        if state.get("last"):
            _publish_best(directory, state)
        return state
    if tried:
        log(f"no readable checkpoint in {directory}; restarting this stage")
    return None


def best_weights_path(directory: str, name: str) -> str:
    """The committed best-on-validation weights of student ``name`` in a stage directory."""
    state = read_json(os.path.join(directory, STATE_FILE)) or {}
    file_name = state.get("best", {}).get(name, {}).get("file")
    return os.path.join(directory, file_name) if file_name else _stable_best_path(directory, name)


def load_best(directory: str, name: str, student: keras.Model) -> None:
    """Loads the best-on-validation weights of student ``name`` into ``student``."""
    path = best_weights_path(directory, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no best checkpoint for {name!r} at {path}")
    student.load_weights(path)


def progress(checkpoints_root: str) -> str:
    """Where a run stands, for one line after an interruption: the stage written last
    and its finished epochs, e.g. ``stage 'distill' after epoch 3 of 10``."""
    states = []
    if os.path.isdir(checkpoints_root):
        for stage in os.listdir(checkpoints_root):
            path = os.path.join(checkpoints_root, stage, STATE_FILE)
            if os.path.isfile(path):
                try:
                    states.append((os.path.getmtime(path), stage, read_json(path)))
                except ValueError:
                    continue
    if not states:
        return "before the first epoch finished"
    _, stage, state = max(states)
    total = f" of {state['epochs']}" if state.get("epochs") else ""
    done = " (finished)" if state.get("finished") else ""
    return f"stage {stage!r} after epoch {state['epoch']}{total}{done}"
