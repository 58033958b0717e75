"""The teacher output cache (``distill.teacher_cache``): a frozen teacher run once per sample.

In stage 2 a frozen teacher computes the same outputs for a sample at every epoch when
its input has no random augmentation, so running it at every step is pure waste (in
the paper's headline AVE direction, the audio ResNet-18 teacher on 257 x 1004
spectrograms is about 60% of the step). With the cache on, each teacher's outputs that
the method reads (`Distiller.teacher_outputs`: features, logits, and the hint map for
AFD) are computed once per sample of the train and validation splits, from the
teacher's evaluation view (`DatasetBundle.ordered`), and the pipelines carry them to
the distiller under `CACHED_TEACHER_KEY`; the teacher's own input is then not even
loaded unless a student reads it (``direction: both``). Under `tf.distribute` the
outputs are part of each batch element, so they are sharded with their samples.

Modes (`resolve`): ``auto`` turns the cache on exactly when it changes nothing (the
method's teachers are frozen and every teacher's training view is deterministic,
`DatasetBundle.deterministic_train_views`), in memory when it fits
`MEMORY_BUDGET_BYTES` and otherwise on disk in the run directory; ``memory`` and
``disk`` force it, with a warning when a teacher's training view is augmented (it
then sees its evaluation view); ``off`` never caches. Disk caches are keyed by the
teacher's weights, the data, the data settings and the precision, so a stale cache is
never read (`fdkd_tf.data.sample_store`).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.sample_store import (
    IncompleteSplit,
    SampleStore,
    array_fingerprint,
    attach_store,
    build_store,
    drop_index,
    fingerprint,
    resolve_mode,
)
from fdkd_tf.distillers.base import CACHED_TEACHER_KEY

#: ``auto`` keeps the teacher outputs in host memory up to this size, on disk beyond it.
MEMORY_BUDGET_BYTES = 4 << 30
#: the splits the distillation stage reads teacher outputs of.
CACHED_SPLITS = ("train", "val")


class TeacherViewWarning(UserWarning):
    """A cached teacher sees its evaluation view although its training view is augmented."""


@dataclasses.dataclass
class CachePlan:
    """What `resolve` decided: ``mode`` (memory | disk | off) and why, for the log."""

    mode: str
    reason: str


def _output_specs(distiller) -> dict:
    """``{"<direction>/<output>": (row shape, "float32")}`` of every cached teacher output."""
    specs = {}
    for direction in distiller.directions:
        for output in distiller.teacher_outputs:
            specs[f"{direction.name}/{output}"] = (tuple(direction.teacher.output[output].shape[1:]), "float32")
    return specs


def resolve(requested: str, distiller, bundle: DatasetBundle, directory: Optional[str]) -> CachePlan:
    """Decides ``distill.teacher_cache`` for this distiller and data.

    ``memory``/``disk`` for a method whose teacher trains (``dml``, ``c2kd``) or that
    has none is ignored with a warning (it would change nothing).

    Raises:
        ConfigError: ``memory``/``disk`` where the data rule the cache out (a bundle
            without indexed pipelines, teacher outputs whose shape varies with the input).
    """
    method = distiller.method
    forced = requested in ("memory", "disk")
    # The method's own reasons are not errors: one config may serve several methods
    # (tools/benchmark.py), and a cache that cannot apply to one of them changes nothing.
    if not distiller.uses_teacher:
        return CachePlan("off", f"method {method} uses no teacher")
    if distiller.trains_teacher:
        if forced:
            warnings.warn(
                f"distill.teacher_cache: {requested} is ignored for method {method}: its teacher trains with the student",
                UserWarning, stacklevel=2,
            )
        return CachePlan("off", f"the teacher of method {method} trains with the student")
    blocker = None
    if not bundle.indexed:
        blocker = "this dataset's bundle gives no indexed pipelines"
    else:
        dynamic = [name for name, (shape, _) in _output_specs(distiller).items() if None in shape]
        if dynamic:
            blocker = f"teacher outputs {', '.join(dynamic)} change shape with the input size"
    if blocker and forced:
        raise ConfigError(f"config key 'distill.teacher_cache' is {requested}, but {blocker}; set it to auto or off")
    if blocker:
        return CachePlan("off", blocker)
    if requested == "off":
        return CachePlan("off", "distill.teacher_cache: off")
    augmented = sorted({
        bundle.modalities[d.teacher_input] for d in distiller.directions
        if not bundle.deterministic_train_views.get(d.teacher_input, False)
    })
    if augmented and not forced:
        return CachePlan("off", f"the teacher's training view ({', '.join(augmented)}) is randomly augmented")
    if augmented:
        warnings.warn(
            f"distill.teacher_cache: {requested} with a randomly augmented teacher view ({', '.join(augmented)}): "
            "the cached teacher sees its evaluation view; set it to auto to keep the augmentation",
            TeacherViewWarning,
            stacklevel=2,
        )
    specs = _output_specs(distiller)
    row_bytes = sum(int(np.prod(shape, dtype=np.int64)) * 4 for shape, _ in specs.values())
    size = row_bytes * sum(bundle.sizes[split] for split in CACHED_SPLITS)
    mode = resolve_mode(requested, "distill.teacher_cache", size, MEMORY_BUDGET_BYTES, directory)
    if mode == "off":
        return CachePlan("off", f"the outputs would take {size / 2**30:.1f} GiB and there is no run directory")
    return CachePlan(mode, f"{size / 2**20:.1f} MiB of teacher outputs")


def compute_outputs(distiller, bundle: DatasetBundle, split: str, batch_size: int) -> dict:
    """Every cached output of every direction's teacher over ``split``, in sample order.

    The teachers run in inference mode on their evaluation view, under the current
    dtype policy and strategy scope; outputs are stored float32. A view that is the
    same in training and evaluation is read through ``indexed`` (so an input cache
    serves it); an augmented one from `DatasetBundle.ordered`.

    Raises:
        IncompleteSplit: when the pass yields fewer samples than the split holds.
    """
    size = bundle.sizes[split]
    arrays = {}
    for direction in distiller.directions:
        teacher, wanted, key = direction.teacher, distiller.teacher_outputs, direction.teacher_input
        if split != "train" or bundle.deterministic_train_views.get(key, False):
            batches = bundle.indexed[split]((key,)).map(lambda inputs, label, key=key: (inputs[key], inputs["index"]))
        else:  # element i of `ordered` is sample i
            batches = bundle.ordered[split].map(lambda inputs, label, key=key: inputs[key]).batch(batch_size)
        spec = batches.element_spec[0] if isinstance(batches.element_spec, tuple) else batches.element_spec

        @tf.function(input_signature=[spec])  # one trace: the last, smaller batch reuses it
        def forward(inputs, teacher=teacher, wanted=wanted):
            outputs = teacher(inputs, training=False)
            return {name: tf.cast(outputs[name], tf.float32) for name in wanted}
        seen, offset = np.zeros(size, bool), 0
        for batch in batches.prefetch(tf.data.AUTOTUNE):
            if isinstance(batch, tuple):
                views, index = batch[0], batch[1].numpy()
            else:
                views, index = batch, np.arange(offset, offset + int(tf.shape(batch)[0]))
                offset = int(index[-1]) + 1 if len(index) else offset
            if len(index) and index.max() >= size:
                raise IncompleteSplit(f"the {split} pipeline yielded more samples than the split's {size}")
            for name, value in forward(views).items():
                full_name = f"{direction.name}/{name}"
                if full_name not in arrays:
                    arrays[full_name] = np.zeros((size, *value.shape[1:]), np.float32)
                arrays[full_name][index] = value.numpy()
            seen[index] = True
        if not seen.all():
            raise IncompleteSplit(f"the {split} pipeline yielded {int(seen.sum())} of the split's {size} samples")
    return arrays


def _teacher_key(distiller, bundle: DatasetBundle, data_cfg: DataConfig, split: str) -> str:
    weights = [array_fingerprint(np.asarray(w) for w in d.teacher.get_weights()) for d in distiller.directions]
    data = {name: value for name, value in dataclasses.asdict(data_cfg).items() if name not in ("batch_size", "shuffle_buffer")}
    teachers = [(d.name, d.teacher_input, d.teacher.dtype_policy.name) for d in distiller.directions]
    return fingerprint("teacher", weights, teachers, distiller.teacher_outputs, data, bundle.fingerprint, split, bundle.sizes[split])


def _place(directions: list[str]):
    def place(inputs, rows):
        # The teacher's own input is not needed any more unless a student reads it.
        nested = {name: {} for name in directions}
        for full_name, value in rows.items():
            direction, output = full_name.split("/", 1)
            nested[direction][output] = value
        inputs[CACHED_TEACHER_KEY] = nested
        return inputs

    return place


def uncached_pipelines(bundle: DatasetBundle) -> dict:
    """``{"train": epoch -> that epoch's pipeline, "val": pipeline}`` of the bundle itself."""
    return {"train": lambda epoch=None: bundle.fresh("train", epoch), "val": bundle.fresh("val")}


def cached_pipelines(
    distiller,
    bundle: DatasetBundle,
    data_cfg: DataConfig,
    requested: str,
    directory: Optional[str],
    log: Callable[[str], None] = lambda message: None,
) -> tuple[dict, CachePlan]:
    """The stage-2 train and validation pipelines with cached teacher outputs.

    Args:
        distiller: the built distiller (its teachers trained or loaded).
        bundle: the data, possibly input-cached.
        data_cfg: the ``data`` section (batch size; part of a disk cache's key).
        requested: ``distill.teacher_cache``.
        directory: the run directory's teacher cache folder, or None.
        log: receives one line: the decision and why.

    Returns:
        ``({"train": epoch -> dataset, "val": dataset}, plan)``: each epoch's training
        pipeline and the validation pipeline (`DatasetBundle.fresh`), with the teacher
        outputs when the cache is on, so that the batches are the same either way.
    """
    plan = resolve(requested, distiller, bundle, directory)
    if plan.mode == "off":
        log(f"teacher cache off: {plan.reason}")
        return uncached_pipelines(bundle), plan
    specs = _output_specs(distiller)
    student_keys = tuple(dict.fromkeys(d.student_input for d in distiller.directions))
    place = _place([d.name for d in distiller.directions])
    pipelines = {}
    for split in CACHED_SPLITS:
        where = None if directory is None else os.path.join(directory, split)
        try:
            store: SampleStore = build_store(
                lambda split=split: compute_outputs(distiller, bundle, split, data_cfg.batch_size),
                plan.mode, where, _teacher_key(distiller, bundle, data_cfg, split), log, f"teacher cache of {split}",
            )
        except IncompleteSplit as error:  # skipped bad samples: rows would not match indices
            plan = CachePlan("off", str(error))
            log(f"teacher cache off: {plan.reason}")
            return uncached_pipelines(bundle), plan

        def make(epoch=None, split=split, store=store):
            dataset = attach_store(bundle.indexed[split](student_keys, epoch=epoch), store, place, specs)
            return drop_index(dataset).prefetch(tf.data.AUTOTUNE)

        pipelines[split] = make if split == "train" else make()
    log(f"teacher cache ({plan.mode}): {plan.reason}, computed once from the teachers' evaluation view")
    return pipelines, plan


__all__ = ["CACHED_SPLITS", "CachePlan", "TeacherViewWarning", "cached_pipelines", "compute_outputs", "resolve", "uncached_pipelines"]
