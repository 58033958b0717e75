"""The teacher output cache: same training as without it, on only when that holds,
never a stale or truncated store read."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import keras
import numpy as np
import pytest

from fdkd_tf.config import ConfigError, DataConfig, DistillConfig, ModelSpec
from fdkd_tf.data import build_datasets
from fdkd_tf.data.sample_store import MANIFEST
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.distillers.base import CACHED_TEACHER_KEY
from fdkd_tf.models import build_classifier
from fdkd_tf.training import teacher_cache
from fdkd_tf.training.precision import precision_policy

TEACHER = ModelSpec(arch="small_cnn", filters=[4], feature_dim=8)
STUDENT = ModelSpec(arch="mlp", hidden_units=[8], feature_dim=8)
DATA = DataConfig(batch_size=100)


@pytest.fixture(scope="module")
def bundle():
    return build_datasets(DATA, seed=0, deterministic=True)


def _distiller(bundle, method: str, both: bool = False, seed: int = 0):
    """Random frozen teachers (their values do not matter, only that they are frozen)."""
    keras.utils.set_random_seed(seed)
    specs = {"teacher": TEACHER, "student": STUDENT}
    directions = []
    for student_key in ("student", "teacher") if both else ("student",):
        teacher_key = "teacher" if student_key == "student" else "student"
        name = bundle.modalities[student_key]
        student = build_classifier(specs[student_key], bundle.input_shapes[student_key], 10, f"student_{name}")
        teacher = build_classifier(specs[teacher_key], bundle.input_shapes[teacher_key], 10, f"teacher_{name}")
        directions.append(Direction(name, student_key, student, teacher_key, teacher))
    config = DistillConfig(method=method, direction="both" if both else "forward")
    return build_distiller(config, directions, 10)


def _one_epoch(bundle, method, both, cache, strategy=None, directory=None):
    initial = _distiller(bundle, method, both).get_weights()  # the same start on any device
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        distiller = _distiller(bundle, method, both)
        distiller.set_weights(initial)
        pipelines, plan = teacher_cache.cached_pipelines(distiller, bundle, DATA, cache, directory)
        distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    distiller.fit(pipelines["train"](0), epochs=1, verbose=0, shuffle=False)
    return [np.array(w) for s in distiller.students for w in s.get_weights()], plan


@pytest.mark.parametrize("method", ["fdcmkd", "kd"])
@pytest.mark.parametrize("both", [False, True], ids=["forward", "both"])
def test_an_epoch_with_the_cache_equals_one_without(bundle, method, both):
    plain, off = _one_epoch(bundle, method, both, "off")
    cached, on = _one_epoch(bundle, method, both, "auto")
    assert (off.mode, on.mode) == ("off", "memory")
    for one, two in zip(plain, cached):
        np.testing.assert_allclose(one, two, atol=1e-5)
    assert any(np.abs(w).sum() for w in plain)


@pytest.mark.parametrize("method,both", [("fdcmkd", True), ("kd", False)])
def test_an_epoch_with_the_cache_equals_one_without_on_two_replicas(method, both, mirrored_strategy):
    # Unshuffled: a distributed fit draws its epoch's shuffle order apart from a local one.
    bundle = build_datasets(dataclasses.replace(DATA, shuffle_buffer=1), seed=0, deterministic=True)
    plain, _ = _one_epoch(bundle, method, both, "off", mirrored_strategy)
    cached, plan = _one_epoch(bundle, method, both, "memory", mirrored_strategy)
    single, _ = _one_epoch(bundle, method, both, "memory")
    assert plan.mode == "memory"
    for one, two in zip(plain, cached):
        np.testing.assert_allclose(one, two, atol=1e-5)  # cached == uncached on 2 replicas
    if not both:  # == one device; with `both` the pix student's BatchNorm sees per-replica batches
        for one, two in zip(single, cached):
            np.testing.assert_allclose(one, two, atol=1e-5)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_an_epoch_with_the_cache_equals_one_without_in_mixed_precision(bundle, precision):
    # The cache stores the low-precision teacher outputs widened to float32, which is
    # what every loss casts them to anyway, so the two epochs must agree.
    with precision_policy(precision):
        plain, _ = _one_epoch(bundle, "fdcmkd", False, "off")
        cached, plan = _one_epoch(bundle, "fdcmkd", False, "auto")
    assert plan.mode == "memory"
    for one, two in zip(plain, cached):
        np.testing.assert_allclose(one, two, atol=1e-5)


def test_the_cached_batch_holds_the_teachers_outputs_and_not_its_input(bundle):
    distiller = _distiller(bundle, "kd")
    pipelines, _ = teacher_cache.cached_pipelines(distiller, bundle, DATA, "memory", None)
    inputs, _ = next(iter(pipelines["val"]))
    assert set(inputs) == {"student", CACHED_TEACHER_KEY}  # the teacher's input is not even loaded
    expected = distiller.teachers[0](next(iter(bundle.val))[0]["teacher"], training=False)
    cached = inputs[CACHED_TEACHER_KEY]["fou"]
    assert set(cached) == {"features", "logits"}
    np.testing.assert_allclose(cached["logits"], expected["logits"], atol=1e-6)
    np.testing.assert_allclose(cached["features"], expected["features"], atol=1e-6)


def test_a_split_with_a_smaller_last_batch_traces_the_teacher_once():
    """val: 400 samples in batches of 300 and 100; both go through one trace, and every
    row holds the teacher's output for its own sample."""
    uneven = build_datasets(dataclasses.replace(DATA, batch_size=300), seed=0, deterministic=True)
    keras.utils.set_random_seed(0)
    teacher = build_classifier(TEACHER, uneven.input_shapes["teacher"], 10, "teacher_fou")
    traces = []

    class Counted(keras.Model):
        def call(self, inputs, training=False):
            traces.append(inputs.shape)  # Python runs once per trace
            return teacher(inputs, training=training)

    student = build_classifier(STUDENT, uneven.input_shapes["student"], 10, "student_fou")
    distiller = build_distiller(DistillConfig(method="kd"), [Direction("fou", "student", student, "teacher", Counted())], 10)
    arrays = teacher_cache.compute_outputs(distiller, uneven, "val", 300)
    assert len(traces) == 1
    images = np.concatenate([inputs["teacher"] for inputs, _ in uneven.val.as_numpy_iterator()])
    np.testing.assert_allclose(arrays["fou/logits"], teacher(images, training=False)["logits"], atol=1e-5)


@pytest.mark.parametrize("method", ["dml", "c2kd"])
def test_auto_is_off_for_methods_whose_teacher_trains(bundle, method):
    distiller = _distiller(bundle, method)
    plan = teacher_cache.resolve("auto", distiller, bundle, None)
    assert plan.mode == "off" and "trains with the student" in plan.reason
    with pytest.warns(UserWarning, match=f"teacher_cache: memory is ignored for method {method}"):
        assert teacher_cache.resolve("memory", distiller, bundle, None).mode == "off"


def test_forcing_the_cache_where_the_data_rule_it_out_names_the_key(bundle):
    distiller = _distiller(bundle, "kd")
    with pytest.raises(ConfigError, match=r"'distill.teacher_cache' is disk, but this dataset's bundle gives no indexed"):
        teacher_cache.resolve("disk", distiller, dataclasses.replace(bundle, indexed={}), "/tmp")
    assert teacher_cache.resolve("auto", distiller, dataclasses.replace(bundle, indexed={}), None).mode == "off"


def test_auto_is_off_for_an_augmented_teacher_view_and_forcing_it_warns(bundle):
    augmented = dataclasses.replace(bundle, deterministic_train_views={"teacher": False, "student": True})
    distiller = _distiller(augmented, "fdcmkd")
    plan = teacher_cache.resolve("auto", distiller, augmented, None)
    assert plan.mode == "off" and "(pix) is randomly augmented" in plan.reason
    with pytest.warns(teacher_cache.TeacherViewWarning, match="sees its evaluation view"):
        assert teacher_cache.resolve("memory", distiller, augmented, None).mode == "memory"


def test_a_forced_cache_of_an_augmented_view_reads_the_evaluation_view(bundle):
    augmented = dataclasses.replace(bundle, deterministic_train_views={"teacher": False, "student": True})
    distiller = _distiller(augmented, "kd")
    with pytest.warns(teacher_cache.TeacherViewWarning):
        pipelines, plan = teacher_cache.cached_pipelines(distiller, augmented, DATA, "memory", None)
    assert plan.mode == "memory"
    # mfeat's evaluation view is its training view, so each cached row must be its sample's.
    for (cached, _), (plain, _) in zip(pipelines["train"](0).take(3), augmented.fresh("train", 0).take(3)):
        expected = distiller.teachers[0](plain["teacher"], training=False)["logits"]
        np.testing.assert_allclose(cached[CACHED_TEACHER_KEY]["fou"]["logits"], expected, atol=1e-6)


def test_a_split_that_lost_samples_turns_the_cache_off(bundle):
    short = dataclasses.replace(
        bundle, deterministic_train_views={"teacher": False, "student": True},
        ordered={**bundle.ordered, "train": bundle.ordered["train"].take(bundle.sizes["train"] - 1)},
    )  # as when data.on_bad_sample: skip drops a clip that fails to decode
    distiller = _distiller(short, "kd")
    lines = []
    with pytest.warns(teacher_cache.TeacherViewWarning):
        pipelines, plan = teacher_cache.cached_pipelines(distiller, short, DATA, "memory", None, lines.append)
    assert plan.mode == "off" and "1199 of the split's 1200 samples" in plan.reason
    inputs, _ = next(iter(pipelines["train"](0)))
    assert set(inputs) == {"teacher", "student"}  # trains as without the cache


def test_auto_is_on_for_the_mfeat_default_and_disk_needs_a_directory(bundle):
    distiller = _distiller(bundle, "fdcmkd")
    assert teacher_cache.resolve("auto", distiller, bundle, None).mode == "memory"
    assert teacher_cache.resolve("off", distiller, bundle, None).mode == "off"
    with pytest.raises(ConfigError, match="disk needs a directory"):
        teacher_cache.resolve("disk", distiller, bundle, None)


def _disk_outputs(distiller, bundle, directory):
    lines = []
    pipelines, _ = teacher_cache.cached_pipelines(distiller, bundle, DATA, "disk", directory, lines.append)
    inputs, _ = next(iter(pipelines["val"]))
    return inputs[CACHED_TEACHER_KEY]["fou"]["logits"].numpy(), lines


def test_a_changed_teacher_invalidates_a_disk_cache(bundle, tmp_path):
    distiller = _distiller(bundle, "kd")
    first, lines = _disk_outputs(distiller, bundle, str(tmp_path))
    assert os.path.isfile(tmp_path / "val" / MANIFEST) and not any("read from" in line for line in lines)
    again, lines = _disk_outputs(distiller, bundle, str(tmp_path))
    assert any("val: read from" in line for line in lines)
    np.testing.assert_array_equal(first, again)
    teacher = distiller.teachers[0]
    teacher.set_weights([w * 1.5 for w in teacher.get_weights()])  # e.g. another teacher.checkpoint
    changed, lines = _disk_outputs(distiller, bundle, str(tmp_path))
    assert any("rebuilding" in line and "other weights" in line for line in lines)
    expected = teacher(next(iter(bundle.val))[0]["teacher"], training=False)["logits"]
    np.testing.assert_allclose(changed, expected, atol=1e-6)
    assert np.abs(changed - first).max() > 1e-3


def test_a_truncated_cache_file_is_detected_and_rebuilt(bundle, tmp_path):
    distiller = _distiller(bundle, "kd")
    first, _ = _disk_outputs(distiller, bundle, str(tmp_path))
    path = tmp_path / "val" / "fou__logits.npy"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    rebuilt, lines = _disk_outputs(distiller, bundle, str(tmp_path))
    assert any("rebuilding" in line and "truncated" in line for line in lines)
    np.testing.assert_array_equal(rebuilt, first)
    assert len(path.read_bytes()) == len(data)
