"""One experiment, end to end: teacher stage, distillation stage, evaluation.

Stage 1 trains each needed teacher with cross-entropy (the ``none`` distiller on the
teacher's modality) and keeps its best-on-validation weights, or loads
``teacher.checkpoint``. Stage 2 builds the configured distiller over one direction
(``forward``) or two (``both``: each modality's student learns from the other
modality's teacher), trains it and keeps each student's best-on-validation weights.
Test accuracy is computed once, on those weights, after training.

Both stages run under ``train.precision`` (`fdkd_tf.training.precision`); the saved
``student.keras`` is float32 whatever the training precision.

Segmentation (students with per-pixel logits, e.g. ``deeplabv3plus``) is scored by
mean IoU over the classes, pixels labelled ``data.ignore_label`` left out: checkpoints
are selected on ``val_miou`` and ``metrics.json`` reports, per model, ``val_miou``,
``test_miou``, ``val_pixel_accuracy`` and ``test_pixel_accuracy`` in place of
``val_accuracy`` / ``test_accuracy``.
"""

from __future__ import annotations

import glob
import math
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, ExperimentConfig, config_from_dict, dump_config
from fdkd_tf.data import DatasetBundle, build_datasets
from fdkd_tf.data.caching import apply_input_cache
from fdkd_tf.distillers import Direction
from fdkd_tf.distillers.none import NoDistillation
from fdkd_tf.losses.classification import resize_to_labels
from fdkd_tf.training.checkpointing import (
    STATE_FILE,
    StageCheckpoint,
    load_best,
    load_error_summary,
    remove_temporaries,
    restore_stage,
)
from fdkd_tf.files import RunDirectory, RunLock, atomic_path, read_json, write_json, write_text
from fdkd_tf.training.compilation import compile_distiller
from fdkd_tf.training.interruption import StopOnInterrupt, deferred
from fdkd_tf.training.precision import float32_copy, precision_policy
from fdkd_tf.training.seeding import seed_stage, set_seed
from fdkd_tf.training.stages import build_distillation, build_teacher, model_spec, teacher_checkpoint, teacher_keys
from fdkd_tf.training.strategy import PEER_ERRORS, cluster_error, make_strategy, worker_role
from fdkd_tf.training.teacher_cache import cached_pipelines

def evaluate_accuracy(model: keras.Model, dataset: tf.data.Dataset, input_key: str) -> float:
    """Top-1 accuracy of a classifier's ``logits`` on one input of a paired dataset.

    Traced once, for the split's element spec (any batch size), so the last,
    smaller batch does not retrace the model.
    """

    @tf.function(input_signature=[dataset.element_spec[0][input_key]])
    def predict(inputs):
        return tf.argmax(model(inputs, training=False)["logits"], axis=-1, output_type=tf.int32)

    correct = total = 0
    for inputs, labels in dataset:
        predictions = predict(inputs[input_key])
        correct += int(tf.reduce_sum(tf.cast(predictions == tf.cast(labels, tf.int32), tf.int32)))
        total += int(tf.shape(labels)[0])
    return correct / max(total, 1)


def segmentation_scores(confusion) -> dict:
    """Mean IoU and pixel accuracy from a ``(classes, classes)`` confusion matrix.

    ``confusion[i, j]`` counts pixels of true class ``i`` predicted as ``j``. The
    IoU of class ``c`` is ``TP / (TP + FP + FN)``; classes absent from both the
    labels and the predictions (union 0) are left out of the mean, as
    `keras.metrics.MeanIoU` (the ``miou`` logged in training) does.

    Returns:
        ``{"miou": float, "pixel_accuracy": float}`` (0.0 for an empty matrix).

    Example:
        >>> segmentation_scores(np.array([[2, 0], [1, 1]]))
        {'miou': 0.5833333333333333, 'pixel_accuracy': 0.75}
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positives = np.diag(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - true_positives
    present = union > 0
    miou = float(np.mean(true_positives[present] / union[present])) if present.any() else 0.0
    total = confusion.sum()
    return {"miou": miou, "pixel_accuracy": float(true_positives.sum() / total) if total else 0.0}


def evaluate_segmentation(
    model: keras.Model, dataset: tf.data.Dataset, input_key: str, num_classes: int, ignore_label: int | None
) -> dict:
    """Mean IoU and pixel accuracy of a segmenter's ``logits`` on one input of a paired dataset.

    One confusion matrix (exact int64 counts) over the whole split, logits
    resized to the label size; ``ignore_label`` pixels count nowhere.

    Returns:
        `segmentation_scores` of the split.
    """

    @tf.function
    def batch_confusion(inputs, labels):
        logits = resize_to_labels(model(inputs, training=False)["logits"], labels)
        predictions = tf.reshape(tf.argmax(logits, axis=-1, output_type=tf.int32), [-1])
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        valid = (labels >= 0) & (labels < num_classes)
        if ignore_label is not None:
            valid &= labels != ignore_label
        return tf.math.confusion_matrix(
            tf.boolean_mask(labels, valid), tf.boolean_mask(predictions, valid), num_classes, dtype=tf.int64
        )

    confusion = np.zeros((num_classes, num_classes), np.int64)
    for inputs, labels in dataset:
        confusion += batch_confusion(inputs[input_key], labels).numpy()
    return segmentation_scores(confusion)


def fit_stage(
    distiller,
    bundle: DatasetBundle,
    config: ExperimentConfig,
    epochs: int,
    run_dir: RunDirectory,
    stage: str,
    verbose: int,
    pipelines: dict | None = None,
) -> dict:
    """Compiles and trains ``distiller`` for ``epochs``, resuming a killed stage.

    Each epoch trains on its own pipeline, whose order and augmentation are a
    function of (seed, epoch) alone (`DatasetBundle.fresh`), and each checkpoint
    holds the layers' random-generator states: a stage resumed after a kill sees
    the batches and draws the dropout masks of the uninterrupted run. ``pipelines``
    (``{"train": epoch -> dataset, "val": dataset}``) replaces the bundle's, e.g.
    with cached teacher outputs (`fdkd_tf.training.teacher_cache`).

    Returns the stage state (best validation accuracy and epoch per student).
    """
    pipelines = pipelines or {"train": lambda epoch=None: bundle.fresh("train", epoch), "val": bundle.val}
    steps_per_epoch = max(math.ceil(bundle.sizes["train"] / config.data.batch_size), 1)
    compile_distiller(distiller, config.train, steps_per_epoch, epochs)
    checkpoint_dir = run_dir.checkpoints(stage)
    state = restore_stage(checkpoint_dir, distiller)
    if state is not None and state["finished"]:
        return state
    initial_epoch = 0 if state is None else state["epoch"]
    if verbose:
        models = ", ".join(f"{model_spec(config, d.student_input).arch} on {bundle.modalities[d.student_input]}" for d in distiller.directions)
        resumed = f", resuming after epoch {initial_epoch}" if initial_epoch else ""
        print(f"[{stage}] {models}: {epochs} epochs x {steps_per_epoch} steps{resumed}", flush=True)
    monitors = {d.name: (f"val_{distiller.accuracy_metric(d)}", d.student) for d in distiller.directions}
    checkpoint = StageCheckpoint(checkpoint_dir, monitors, epochs, state)
    # StopOnInterrupt after the checkpoint: an epoch that ended is saved before a Ctrl-C stops the run.
    callbacks = [checkpoint, keras.callbacks.TensorBoard(run_dir.logs(stage), update_freq="epoch"), StopOnInterrupt()]
    try:
        with deferred():  # a Ctrl-C between two epochs' fits stops at the next one's start
            for epoch in range(initial_epoch, epochs):
                distiller.fit(
                    pipelines["train"](epoch),
                    validation_data=pipelines["val"],
                    epochs=epoch + 1,
                    initial_epoch=epoch,
                    callbacks=callbacks,
                    shuffle=False,  # the epoch's pipeline is already in its order
                    verbose=verbose,
                )
    except PEER_ERRORS as error:  # multi-worker: a peer died; its collectives fail within seconds
        raise cluster_error(error, stage) from None
    return checkpoint.state


def _summary(model, bundle: DatasetBundle, input_key: str, best: dict | None, ignore_label: int | None = None) -> dict:
    if len(model.output["logits"].shape) > 2:  # segmentation: mIoU (+ pixel accuracy)
        summary = {"modality": bundle.modalities[input_key]}
        for split in ("val", "test"):
            scores = evaluate_segmentation(model, bundle.split(split), input_key, bundle.num_classes, ignore_label)
            summary[f"{split}_miou"] = scores["miou"]
            summary[f"{split}_pixel_accuracy"] = scores["pixel_accuracy"]
        summary["best_epoch"] = None if best is None else best["epoch"]
        return summary
    return {
        "modality": bundle.modalities[input_key],
        "val_accuracy": evaluate_accuracy(model, bundle.val, input_key),
        "test_accuracy": evaluate_accuracy(model, bundle.test, input_key),
        "best_epoch": None if best is None else best["epoch"],
    }


def train_teacher(
    config: ExperimentConfig,
    bundle: DatasetBundle,
    run_dir: RunDirectory,
    input_key: str,
    checkpoint: str | None,
    verbose: int,
) -> tuple[keras.Model, dict]:
    """Stage 1 for the modality read from ``input_key``: a trained, frozen teacher.

    Loads ``checkpoint`` (a ``.weights.h5`` of the same architecture) when given;
    uses the user's saved classifier as it is (``arch: saved``); otherwise trains
    with cross-entropy and keeps the best epoch on validation.
    """
    modality = bundle.modalities[input_key]
    teacher = build_teacher(config, bundle, input_key)
    spec = model_spec(config, input_key)
    best = None
    saved = spec.arch == "saved"  # the user's trained teacher (model.*.arch: saved): evaluated, not trained again
    if checkpoint and not saved:
        key = "teacher.checkpoint" if input_key == "teacher" else "teacher.reverse_checkpoint"
        if not os.path.exists(checkpoint):
            raise FileNotFoundError(f"config key '{key}': teacher weights not found at {checkpoint}")
        try:
            teacher.load_weights(checkpoint)
        except Exception as error:  # noqa: BLE001 - re-raised with the key that caused it
            raise ValueError(
                f"config key '{key}': cannot load {checkpoint} into a {spec.arch} teacher "
                f"for modality {modality!r}: {load_error_summary(error)}; pass weights saved from "
                f"this architecture (model.{'teacher' if input_key == 'teacher' else 'student'}.*)"
            ) from None
    elif not saved:
        stage = f"teacher_{modality}"
        trainer = NoDistillation(
            [Direction(modality, input_key, teacher)], bundle.num_classes,
            ignore_label=config.data.ignore_label, name=f"{stage}_trainer",
        )
        epochs = config.teacher.epochs or config.train.epochs
        state = fit_stage(trainer, bundle, config, epochs, run_dir, stage, verbose)
        best = state["best"][modality]
        load_best(run_dir.checkpoints(stage), modality, teacher)
    teacher.trainable = False
    return teacher, _summary(teacher, bundle, input_key, best, config.data.ignore_label)


def run_experiment(config: ExperimentConfig, output_dir: str, strategy: str | None = None, verbose: int | None = None) -> dict:
    """Runs (or resumes) both stages and writes the run directory.

    Args:
        config: validated experiment config.
        output_dir: run directory (created; an existing one is resumed).
        strategy: overrides ``train.strategy`` when given.
        verbose: overrides ``train.verbose`` when given.

    Returns:
        The ``metrics.json`` payload.

    Raises:
        RunDirectoryBusy: when another live process runs in ``output_dir``.
        ValueError: when ``output_dir`` holds a run of another config that has
            finished an epoch (a directory with none is taken over, with a notice).
    """
    run_dir = RunDirectory(output_dir)
    if os.path.exists(run_dir.root) and not os.path.isdir(run_dir.root):
        raise NotADirectoryError(20, "the output directory is a file; choose another --output-dir", run_dir.root)
    distribution = make_strategy(strategy or config.train.strategy)
    chief, task = worker_role(distribution)
    if not chief:  # multi-worker: only the chief writes the run directory
        with tempfile.TemporaryDirectory(prefix=f"fdkd-{task}-") as scratch:
            _mirror_committed(run_dir, scratch)
            with RunLock(scratch):
                return _run_locked(config, RunDirectory(scratch), distribution, verbose)
    with RunLock(run_dir.root):
        return _run_locked(config, run_dir, distribution, verbose)


def _mirror_committed(run_dir: RunDirectory, scratch: str) -> None:
    """A non-chief worker's copy of what the chief has committed (config, metrics,
    checkpoints), so that it resumes at the chief's epoch; it writes only there and
    the directory is removed when it ends."""
    for name in ("config.yaml", "metrics.json"):
        if os.path.isfile(run_dir.path(name)):
            shutil.copy2(run_dir.path(name), os.path.join(scratch, name))
    if os.path.isdir(run_dir.path("checkpoints")):
        shutil.copytree(run_dir.path("checkpoints"), os.path.join(scratch, "checkpoints"),
                        ignore=shutil.ignore_patterns(".tmp-*"))


def _run_locked(config: ExperimentConfig, run_dir: RunDirectory, distribution, verbose: int | None) -> dict:
    verbose = config.train.verbose if verbose is None else verbose
    log = print if verbose else (lambda message: None)
    if _check_resumable(run_dir, config) and os.path.isfile(run_dir.metrics):
        metrics = read_json(run_dir.metrics)
        log(f"{run_dir.root} is a finished run (metrics.json); nothing to train")
        return metrics
    remove_temporaries(run_dir.root, recursive=True)  # what a killed run left half-written
    set_seed(config.experiment.seed, config.experiment.deterministic)
    started = time.time()
    bundle = build_datasets(config.data, seed=config.experiment.seed, deterministic=config.experiment.deterministic)
    bundle = apply_input_cache(bundle, config.data, run_dir.path("cache", "inputs"), log)
    write_text(run_dir.config, dump_config(config))  # committed once the data load: a bad path never blocks the fix
    with distribution.scope(), precision_policy(config.train.precision):
        teachers, teacher_metrics = {}, {}
        for input_key in teacher_keys(config):
            seed_stage(config.experiment.seed, f"teacher_{bundle.modalities[input_key]}", config.experiment.deterministic)
            teachers[input_key], teacher_metrics[bundle.modalities[input_key]] = train_teacher(
                config, bundle, run_dir, input_key, teacher_checkpoint(config, input_key), verbose
            )
        seed_stage(config.experiment.seed, "distill", config.experiment.deterministic)
        distiller, directions, builders = build_distillation(config, bundle, teachers)
        pipelines, cache_plan = cached_pipelines(
            distiller, bundle, config.data, config.distill.teacher_cache, run_dir.path("cache", "teacher"), log
        )
        state = fit_stage(distiller, bundle, config, config.train.epochs, run_dir, "distill", verbose, pipelines)
    student_metrics = {}
    for index, direction in enumerate(directions):
        load_best(run_dir.checkpoints("distill"), direction.name, direction.student)
        student_metrics[direction.name] = _summary(
            direction.student, bundle, direction.student_input, state["best"][direction.name], config.data.ignore_label
        )
        path = run_dir.student_model(None if index == 0 else direction.name)
        with atomic_path(path) as temporary:  # float32 whatever train.precision was
            float32_copy(direction.student, builders[index]).save(temporary)
    forward = directions[0].name
    metrics = {
        "method": config.distill.method,
        "seed": config.experiment.seed,
        "dataset": config.data.name,
        "direction": config.distill.direction,
        "selection": f"epoch with the best validation {'mIoU' if distiller.is_dense(directions[0]) else 'accuracy'} of the student's own head",
        "teacher": teacher_metrics[bundle.modalities["teacher"]],
        "student": student_metrics[forward],
        "teachers": teacher_metrics,
        "students": student_metrics,
        "epochs": config.train.epochs,
        "caches": {
            "inputs": bundle.input_cache,
            "teacher": {"mode": cache_plan.mode, "reason": cache_plan.reason},
        },
        "wall_seconds": round(time.time() - started, 1),
    }
    write_json(run_dir.metrics, metrics)
    if config.analysis.tensorboard:  # Table 1 / Fig. 1 / Fig. 4 as TensorBoard images
        from fdkd_tf.analysis.tensorboard import log_run_analysis

        students = [(d.name, d.student_input, d.student) for d in directions]
        log_run_analysis(config, bundle, run_dir.logs("analysis"), teachers, students, progress=log)
    return metrics


def _check_resumable(run_dir: RunDirectory, config: ExperimentConfig) -> bool:
    """Whether ``run_dir`` holds this experiment already (False: a new run).

    A directory of another config is refused once one of its stages has committed
    an epoch; before that (a run that failed while loading data or building models)
    it is taken over by ``config``, with a notice.
    """
    if not os.path.exists(run_dir.config):
        return False
    import yaml

    try:
        with open(run_dir.config, encoding="utf-8") as handle:
            previous = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        previous = None
    try:  # keys added since that run was written take their defaults
        previous = yaml.safe_load(dump_config(config_from_dict(previous, run_dir.config)))
    except (ConfigError, TypeError, ValueError, AttributeError):
        pass  # compared as written: it differs
    current = yaml.safe_load(dump_config(config))
    if isinstance(previous, dict):
        ignored = ("train.verbose", "train.strategy", "data.cache")  # the input cache yields the same tensors
        for key in ignored:
            section, name = key.split(".")
            previous.get(section, {}).pop(name, None)
            current.get(section, {}).pop(name, None)
        for section in ("analysis", "tune"):  # analysis settings and search ranges never change training
            previous.pop(section, None)
            current.pop(section, None)
    if previous == current:
        return True
    committed = glob.glob(os.path.join(run_dir.path("checkpoints"), "*", STATE_FILE))
    if committed:
        raise ValueError(
            f"{run_dir.root} holds a run of a different config ({run_dir.config}) with finished epochs "
            f"({os.path.relpath(committed[0], run_dir.root)}); choose a new --output-dir or delete that directory"
        )
    print(f"notice: {run_dir.root} held another config but no finished epoch; this run takes it over", flush=True)
    return False
