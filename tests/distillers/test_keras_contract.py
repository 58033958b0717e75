"""The distiller on Keras' training contract: loss scaling, XLA, accumulation,
compiled metrics, callbacks, serialization and settings defaults."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from distiller_helpers import CLASSES, STUDENT_IN, TEACHER_IN, batch_dataset, make_distiller, weights_of
from testing_utils import paired_batch, tiny_classifier
from fdkd_tf.config import ConfigError
from fdkd_tf.distillers.fdcmkd import FDCMKDConfig
from fdkd_tf.distillers.kd import KDConfig
from fdkd_tf.distillers import REGISTRY, Direction
from fdkd_tf.distillers.fdcmkd import FrequencyDecoupledDistillation
from fdkd_tf.distillers.kd import LogitDistillation
from fdkd_tf.training.precision import precision_policy


def _one_step(method: str, precision: str = "float32", jit_compile=False, batch: int = 8):
    """Student weights before/after one SGD(0.1) step of ``method``, and the logs."""
    with precision_policy(precision):
        distiller = make_distiller(method)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit_compile)
    before = weights_of(distiller.students[0])
    history = distiller.fit(batch_dataset(batch=batch), epochs=1, verbose=0)
    return before, weights_of(distiller.students[0]), {k: v[-1] for k, v in history.history.items()}, distiller


def _relative_update_difference(reference, other) -> float:
    """``||d_other - d_ref|| / ||d_ref||`` over every weight, with ``d = after - before``."""
    ref = np.concatenate([(a - b).ravel() for b, a in zip(*reference[:2])])
    new = np.concatenate([(a - b).ravel() for b, a in zip(*other[:2])])
    return float(np.linalg.norm(new - ref) / np.linalg.norm(ref))


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_step_updates_like_float32(precision):
    reference = _one_step("fdcmkd")
    mixed = _one_step("fdcmkd", precision)
    # Without optimizer.scale_loss the float16 update is ~32,768x too small (difference ~1).
    assert _relative_update_difference(reference, mixed) < 5e-2
    assert all(np.isfinite(value) for value in mixed[2].values())
    assert set(reference[2]) <= set(mixed[2])
    assert mixed[3].students[0].compute_dtype == precision.split("_")[1]
    optimizer = mixed[3].optimizer
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")


def test_loss_scale_is_applied_and_halves_after_an_overflow():
    with precision_policy("mixed_float16"):
        distiller = make_distiller("fdcmkd")
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    inputs, labels = paired_batch(8, TEACHER_IN, STUDENT_IN, CLASSES)
    logs = distiller.train_on_batch(inputs, labels, return_dict=True)
    initial_scale = logs["loss_scale"]
    before = weights_of(distiller.students[0])
    overflowing = dict(inputs, student=inputs["student"] * 1e6)  # float16 activations overflow
    logs = distiller.train_on_batch(overflowing, labels, return_dict=True)
    assert logs["loss_scale"] == initial_scale / 2
    for b, a in zip(before, weights_of(distiller.students[0])):  # the non-finite step was skipped
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_xla_step_equals_eager_step(method):
    eager = _one_step(method, jit_compile=False)
    compiled = _one_step(method, jit_compile=True)
    assert compiled[3].jit_compile and not eager[3].jit_compile
    for a, b in zip(eager[1], compiled[1]):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)
    for key, value in eager[2].items():
        assert compiled[2][key] == pytest.approx(value, abs=1e-5), key


def test_gradient_accumulation_over_two_batches_equals_one_double_batch():
    inputs, labels = paired_batch(8, TEACHER_IN, STUDENT_IN, CLASSES)
    halves = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(4)
    accumulated = make_distiller("fdcmkd")
    accumulated.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, gradient_accumulation_steps=2))
    whole = make_distiller("fdcmkd")
    whole.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    before = weights_of(whole)
    accumulated.fit(halves, epochs=1, verbose=0, shuffle=False)
    whole.train_on_batch(inputs, labels)
    assert any(not np.allclose(b, a) for b, a in zip(before, weights_of(whole)))
    for a, b in zip(weights_of(whole), weights_of(accumulated)):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)


def test_gradient_accumulation_under_two_replicas_is_refused_in_one_line(mirrored_strategy):
    with mirrored_strategy.scope():
        distiller = make_distiller("fdcmkd")
        with pytest.raises(ValueError, match=r"train.gradient_accumulation_steps=2\) cannot run under a tf.distribute strategy with 2 replicas") as error:
            distiller.compile(optimizer=keras.optimizers.SGD(0.1, gradient_accumulation_steps=2))
    assert "\n" not in str(error.value) and "data.batch_size" in str(error.value)


def test_xla_under_two_replicas_is_refused_in_one_line(mirrored_strategy):
    with mirrored_strategy.scope():
        distiller = make_distiller("fdcmkd")
        with pytest.raises(ValueError, match=r"train.jit_compile: true cannot run under a tf.distribute strategy with 2 replicas"):
            distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=True)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile="auto")
    assert distiller.jit_compile is False


def test_steps_per_execution_changes_nothing():
    results = []
    for steps in (1, 2):
        distiller = make_distiller("fdcmkd")
        distiller.compile(optimizer=keras.optimizers.SGD(0.1), steps_per_execution=steps)
        history = distiller.fit(batch_dataset(repeat=4), epochs=1, verbose=0)
        results.append((weights_of(distiller), history.history["loss"][-1]))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
    assert results[1][1] == pytest.approx(results[0][1], rel=1e-6)


def test_compiled_metrics_are_logged_beside_the_method_metrics():
    distiller = make_distiller("fdcmkd")
    distiller.compile(optimizer=keras.optimizers.SGD(0.0), metrics=["sparse_categorical_accuracy"])
    history = distiller.fit(batch_dataset(), validation_data=batch_dataset(), epochs=1, verbose=0).history
    # The compiled metric scores the student's own logits: it equals the method's `acc`.
    assert history["sparse_categorical_accuracy"] == pytest.approx(history["acc"])
    assert history["val_sparse_categorical_accuracy"] == pytest.approx(history["val_acc"])
    assert {"low", "high", "align_low_s", "low_acc", "high_acc", "loss"} <= set(history)
    variables = distiller.metrics_variables  # each metric held once (JAX threads these as state)
    assert len({id(v) for v in variables}) == len(variables)


def test_compiled_metrics_score_each_direction_of_a_two_way_run():
    distiller = make_distiller("fdcmkd", 16, 16, both=True)
    top1 = keras.metrics.SparseCategoricalAccuracy(name="top1")
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["sparse_categorical_accuracy", top1])
    history = distiller.fit(batch_dataset(), epochs=1, verbose=0).history
    for direction in ("a", "b"):  # one copy of each metric per direction, scored on its own logits
        assert history[f"{direction}_sparse_categorical_accuracy"] == pytest.approx(history[f"{direction}_acc"])
        assert history[f"{direction}_top1"] == pytest.approx(history[f"{direction}_acc"])


def test_standard_callbacks_with_default_modes(tmp_path):
    distiller = make_distiller("fdcmkd")
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))  # a plateau: nothing changes
    best = str(tmp_path / "best.keras")
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_acc", patience=1),  # mode "auto" finds "up"
        keras.callbacks.ModelCheckpoint(best, monitor="val_low", save_best_only=True),  # a term: "down"
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
        keras.callbacks.TensorBoard(str(tmp_path / "logs")),
    ]
    history = distiller.fit(batch_dataset(), validation_data=batch_dataset(), epochs=10, callbacks=callbacks, verbose=0)
    assert len(history.history["loss"]) == 2  # epoch 1 sets the best, epoch 2 does not improve
    assert callbacks[0].monitor_op == keras.ops.greater
    assert callbacks[1].monitor_op == keras.ops.less
    assert os.path.isfile(best) and os.listdir(tmp_path / "logs")
    reloaded = keras.saving.load_model(best)
    assert type(reloaded) is FrequencyDecoupledDistillation


@pytest.mark.parametrize("method", ["fdcmkd", "dkd", "ofd", "c2kd"])
def test_save_and_load_round_trip_continues_identically(method, tmp_path):
    distiller = make_distiller(method)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    distiller.fit(batch_dataset(), epochs=1, verbose=0)  # momentum and running state to carry over
    path = str(tmp_path / "distiller.keras")
    distiller.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(distiller) and reloaded.settings == distiller.settings
    if not distiller.trains_teacher:
        assert not reloaded.teachers[0].trainable_weights
    assert len(reloaded.trainable_weights) == len(distiller.trainable_weights)
    original = distiller.fit(batch_dataset(), epochs=1, verbose=0).history
    restored = reloaded.fit(batch_dataset(), epochs=1, verbose=0).history
    assert restored == pytest.approx(original)
    for a, b in zip(weights_of(distiller), weights_of(reloaded)):
        np.testing.assert_array_equal(b, a)


def _direction():
    teacher = tiny_classifier(TEACHER_IN, 16, CLASSES, "teacher_a", seed=1)
    student = tiny_classifier(STUDENT_IN, 8, CLASSES, "student_b", seed=2)
    return [Direction("b", "student", student, "teacher", teacher)]


@pytest.mark.parametrize("method", sorted(REGISTRY))
def test_every_method_builds_with_the_paper_defaults(method):
    distiller_class, _ = REGISTRY[method]
    assert distiller_class.method == method  # errors name the config section distill.<method>
    distiller = distiller_class(_direction(), num_classes=CLASSES)
    if distiller_class.settings_class is not None:
        assert distiller.settings == distiller_class.settings_class()
    inputs, labels = paired_batch(4, TEACHER_IN, STUDENT_IN, CLASSES)
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert np.isfinite(float(total)) and set(terms) == set(distiller.term_names())


def test_keyword_settings_override_the_defaults():
    distiller = FrequencyDecoupledDistillation(_direction(), num_classes=CLASSES, lambda1=1e3, cutoff=0.25, name="fd")
    assert distiller.settings == FDCMKDConfig(lambda1=1e3, cutoff=0.25) and distiller.name == "fd"
    over_a_dataclass = LogitDistillation(_direction(), num_classes=CLASSES, settings=KDConfig(temperature=2.0), kd_weight=3.0)
    assert over_a_dataclass.settings == KDConfig(temperature=2.0, kd_weight=3.0)
    with pytest.raises(ConfigError, match=r"'distill.fdcmkd.lambda1' must be >= 0, got -1"):
        FrequencyDecoupledDistillation(_direction(), num_classes=CLASSES, lambda1=-1)
    with pytest.raises(ConfigError, match=r"unknown config key 'distill.kd.lambda1'"):
        LogitDistillation(_direction(), num_classes=CLASSES, settings={"lambda1": 1.0})


def test_compile_refuses_a_loss():
    with pytest.raises(ValueError, match="do not pass loss"):
        make_distiller("kd").compile(optimizer="sgd", loss="mse")
