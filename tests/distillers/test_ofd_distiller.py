"""The ``ofd`` distiller: Linear+BN regressor, running margin, partial L2."""

import keras
import numpy as np
import pytest

from distiller_helpers import batch_dataset, make_distiller, weights_of
from feature_baseline_helpers import image_dataset, make_image_distiller
from fdkd_tf.config import config_from_dict


def numpy_partial_l2(student, teacher, margin):
    target = np.maximum(teacher, margin)
    skip = (student <= target) & (target <= 0)
    return np.where(skip, 0.0, (student - target) ** 2).sum(-1)


def numpy_negative_mean(features):
    return np.array([features[features[:, c] < 0, c].mean() if np.any(features[:, c] < 0) else 0.0 for c in range(features.shape[1])])


def test_training_term_matches_numpy_with_the_batch_margin():
    distiller = make_distiller("ofd", teacher_dim=16, student_dim=8)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=True)
    assert tuple(terms) == distiller.term_names() == ("ce", "ofd")
    modules = distiller.direction_modules[0]
    teacher = distiller.teachers[0](inputs["teacher"])["features"].numpy().astype(np.float64)
    student = distiller.students[0](inputs["student"])["features"].numpy().astype(np.float64)
    # Regressor in training mode: Dense, then BatchNorm with the batch statistics.
    dense, batch_norm = modules["regressor"].layers
    projected = student @ np.array(dense.kernel, dtype=np.float64)
    normalized = (projected - projected.mean(0)) / np.sqrt(projected.var(0) + 1e-5)
    regressed = normalized * np.array(batch_norm.gamma) + np.array(batch_norm.beta)
    margin = numpy_negative_mean(teacher)  # the first training batch alone
    np.testing.assert_allclose(np.array(modules["margin"](teacher)), margin, rtol=1e-5, atol=1e-7)
    expected = numpy_partial_l2(regressed, teacher, margin).mean()
    assert float(terms["ofd"]) == pytest.approx(expected, rel=1e-4)
    assert float(total) == pytest.approx(float(terms["ce"]) + 1e-3 * expected, rel=1e-5)


def test_margin_accumulates_over_training_batches_only():
    distiller = make_distiller("ofd", 16, 8)
    first, labels = next(iter(batch_dataset(seed=0)))
    second, _ = next(iter(batch_dataset(seed=1, batch=3)))
    distiller.compute_terms(first, labels, training=True)
    distiller.compute_terms(second, labels[:3], training=True)
    margin_layer = distiller.direction_modules[0]["margin"]
    after_training = np.array(margin_layer(np.zeros((1, 16), np.float32)))
    teacher = distiller.teachers[0]
    seen = np.concatenate([teacher(first["teacher"])["features"].numpy(), teacher(second["teacher"])["features"].numpy()])
    np.testing.assert_allclose(after_training, numpy_negative_mean(seen.astype(np.float64)), rtol=1e-5, atol=1e-7)
    assert np.all(after_training <= 0)
    third, _ = next(iter(batch_dataset(seed=2)))
    distiller.compute_terms(third, labels, training=False)  # evaluation leaves the estimate alone
    np.testing.assert_array_equal(np.array(margin_layer(np.zeros((1, 16), np.float32))), after_training)


def test_regressor_present_even_when_sizes_agree():
    modules = make_distiller("ofd", 16, 16).direction_modules[0]
    assert "regressor" in modules and "projection" not in modules


@pytest.mark.parametrize("student_arch", ["mlp", "small_cnn"])
def test_fit_step_trains_student_and_regressor_and_freezes_teacher(student_arch):
    distiller = make_image_distiller("ofd", student_arch, ofd_weight=1.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    regressor_before = weights_of(distiller.direction_modules[0]["regressor"])
    history = distiller.fit(image_dataset(student_arch, repeat=2), epochs=1, verbose=0)
    assert {"loss", "ce", "ofd", "acc"} <= set(history.history)
    for before, after in zip(teacher_before, weights_of(distiller.teachers[0])):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))
    assert any(not np.allclose(b, a) for b, a in zip(regressor_before, weights_of(distiller.direction_modules[0]["regressor"])))
    counts = np.array(distiller.direction_modules[0]["margin"].negative_count)
    assert counts.sum() > 0 and counts.max() <= 16  # two batches of 8 seen


def test_config_defaults():
    settings = config_from_dict({"distill": {"method": "ofd"}}).distill.ofd
    assert (settings.ofd_weight, settings.ce_weight) == (1e-3, 1.0)
