"""The ``afd`` distiller: query/key attention over the hint and feature levels,
checked against a numpy forward pass from the layer weights."""

import math

import keras
import numpy as np
import pytest
from scipy.special import softmax

from distiller_helpers import batch_dataset, make_distiller, weights_of
from feature_baseline_helpers import image_dataset, make_image_distiller
from fdkd_tf.config import config_from_dict
from fdkd_tf.distillers.afd import adaptive_pool_matrix


def numpy_adaptive_pool(energy, out_h, out_w):
    """PyTorch's adaptive average pooling bins, window by window: (batch, H, W) -> (batch, oh, ow)."""
    batch, height, width = energy.shape
    pooled = np.zeros((batch, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            rows = slice(math.floor(i * height / out_h), math.ceil((i + 1) * height / out_h))
            cols = slice(math.floor(j * width / out_w), math.ceil((j + 1) * width / out_w))
            pooled[:, i, j] = energy[:, rows, cols].mean(axis=(1, 2))
    return pooled


def numpy_dense(layer, x):
    out = x @ np.array(layer.kernel, dtype=np.float64)
    return out + np.array(layer.bias, dtype=np.float64) if layer.use_bias else out


def numpy_batch_norm_inference(layer, x):
    mean, variance = np.array(layer.moving_mean), np.array(layer.moving_variance)
    return (x - mean) / np.sqrt(variance + layer.epsilon) * np.array(layer.gamma) + np.array(layer.beta)


def normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def descriptor(level):
    return level if level.ndim == 2 else level.mean(axis=(1, 2))


def numpy_afd(distiller, inputs):
    """Per-sample AFD loss in inference mode, from the paper's equations and the weights."""
    modules = distiller.direction_modules[0]
    teacher_out = distiller.teachers[0](inputs["teacher"])
    student_out = distiller.students[0](inputs["student"])
    teacher_levels = [teacher_out[k].numpy().astype(np.float64) for k in ("hint", "features")]
    student_levels = [student_out[k].numpy().astype(np.float64) for k in ("hint", "features")]
    d = distiller.settings.qk_dim
    batch = teacher_levels[0].shape[0]
    queries = []
    for t, level in enumerate(teacher_levels):
        dense, bn = modules[f"query_{t}"].layers
        queries.append(numpy_batch_norm_inference(bn, numpy_dense(dense, descriptor(level))))
    keys = []
    for s, level in enumerate(student_levels):
        dense, bn, _ = modules[f"key_{s}"].layers
        key = np.maximum(numpy_batch_norm_inference(bn, numpy_dense(dense, descriptor(level))), 0.0)
        dense, bn = modules["bilinear"].layers
        keys.append(numpy_batch_norm_inference(bn, numpy_dense(dense, key)).reshape(batch, 2, d))  # (batch, T, d)
    positions = modules["positions"]
    positional = np.array(positions.teacher_positions) @ np.array(positions.student_positions).T
    loss = np.zeros(batch)
    for t, teacher_level in enumerate(teacher_levels):
        spatial = teacher_level.ndim == 4 and any(level.ndim == 4 for level in student_levels)
        logits, distances = [], []
        for s, student_level in enumerate(student_levels):
            if spatial and student_level.ndim != 4:
                logits.append(np.full(batch, -np.inf))
                distances.append(np.zeros(batch))
                continue
            logits.append((np.sum(keys[s][:, t] * queries[t], axis=-1) + positional[t, s]) / np.sqrt(d))
            if spatial:
                teacher_value = normalize((teacher_level**2).mean(-1).reshape(batch, -1))
                pooled = numpy_adaptive_pool((student_level**2).mean(-1), *teacher_level.shape[1:3])
                student_value = normalize(pooled.reshape(batch, -1))
            else:
                teacher_value = normalize(descriptor(teacher_level))
                student_value = normalize(numpy_dense(modules[f"value_{t}_{s}"], descriptor(student_level)))
            distances.append(np.mean((student_value - teacher_value) ** 2, axis=-1))
        attention = softmax(np.stack(logits, axis=1), axis=1)
        loss += np.sum(attention * np.stack(distances, axis=1), axis=1)
    return loss


@pytest.mark.parametrize("in_size, out_size", [(3, 2), (5, 2), (4, 4), (2, 3), (7, 3)])
def test_adaptive_pool_matrix_matches_window_pooling(in_size, out_size):
    x = np.random.default_rng(0).normal(size=(2, in_size, in_size))
    matrix = adaptive_pool_matrix(in_size, out_size).astype(np.float64)
    np.testing.assert_allclose(np.einsum("ih,bhw,jw->bij", matrix, x, matrix), numpy_adaptive_pool(x, out_size, out_size), rtol=1e-6)


def test_vector_levels_match_numpy():
    distiller = make_distiller("afd", teacher_dim=16, student_dim=8)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == ("ce", "afd")
    expected = numpy_afd(distiller, inputs).mean()
    assert float(terms["afd"]) == pytest.approx(expected, rel=1e-4)
    assert float(total) == pytest.approx(float(terms["ce"]) + 200.0 * expected, rel=1e-4)


@pytest.mark.parametrize("student_arch", ["small_cnn", "mlp"])
def test_map_levels_match_numpy(student_arch):
    distiller = make_image_distiller("afd", student_arch)
    inputs, labels = next(iter(image_dataset(student_arch)))
    _, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert float(terms["afd"]) == pytest.approx(numpy_afd(distiller, inputs).mean(), rel=1e-4)
    modules = distiller.direction_modules[0]
    # Student maps reach the spatial teacher hint by pooling, not by a learned Dense.
    has_value_for_teacher_hint = any(name.startswith("value_0_") for name in modules)
    assert has_value_for_teacher_hint == (student_arch == "mlp")


def test_optional_hinton_term():
    distiller = make_distiller("afd", kd_weight=0.9)
    assert distiller.term_names() == ("ce", "afd", "kd")
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert float(total) == pytest.approx(float(terms["ce"]) + 200.0 * float(terms["afd"]) + 0.9 * float(terms["kd"]), rel=1e-5)


@pytest.mark.parametrize("student_arch", ["mlp", "small_cnn"])
def test_fit_step_trains_student_and_attention_and_freezes_teacher(student_arch):
    distiller = make_image_distiller("afd", student_arch)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    query_before = weights_of(distiller.direction_modules[0]["query_1"])
    history = distiller.fit(image_dataset(student_arch), epochs=1, verbose=0)
    assert {"loss", "ce", "afd", "acc"} <= set(history.history)
    assert np.isfinite(history.history["loss"][-1])
    for before, after in zip(teacher_before, weights_of(distiller.teachers[0])):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))
    assert any(not np.allclose(b, a) for b, a in zip(query_before, weights_of(distiller.direction_modules[0]["query_1"])))


def test_config_defaults():
    settings = config_from_dict({"distill": {"method": "afd"}}).distill.afd
    assert (settings.afd_weight, settings.qk_dim, settings.kd_weight) == (200.0, 128, 0.0)
