"""`fdkd_tf.losses.afd` (Ji et al., 2021): attention over student levels and the
attention-weighted distance, against numpy written from the paper's definitions."""

import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.losses import afd_attention, afd_loss
from fdkd_tf.losses.afd import spatial_energy


def numpy_attention(queries, keys, positional, valid):
    queries, keys = queries.astype(np.float64), keys.astype(np.float64)
    batch, levels_t, dim = queries.shape
    levels_s = keys.shape[1]
    attention = np.zeros((batch, levels_t, levels_s))
    for b in range(batch):
        for t in range(levels_t):
            logits = np.array([(keys[b, s, t] @ queries[b, t] + positional[t, s]) / np.sqrt(dim) for s in range(levels_s)])
            logits = np.where(valid[t], logits, -np.inf)
            weights = np.exp(logits - logits[valid[t]].max())
            attention[b, t] = weights / weights.sum()
    return attention


def numpy_afd(attention, teacher_values, student_values):
    batch, levels_t, levels_s = attention.shape
    loss = np.zeros(batch)
    for b in range(batch):
        for t in range(levels_t):
            for s in range(levels_s):
                loss[b] += attention[b, t, s] * np.mean((student_values[t][b, s] - teacher_values[t][b]) ** 2)
    return loss


def _case(seed=0, batch=4):
    rng = np.random.default_rng(seed)
    queries = rng.normal(size=(batch, 2, 8)).astype(np.float32)
    keys = rng.normal(size=(batch, 3, 2, 8)).astype(np.float32)
    positional = rng.normal(size=(2, 3)).astype(np.float32)
    teacher_values = [rng.normal(size=(batch, 5)).astype(np.float32), rng.normal(size=(batch, 9)).astype(np.float32)]
    student_values = [rng.normal(size=(batch, 3, 5)).astype(np.float32), rng.normal(size=(batch, 3, 9)).astype(np.float32)]
    return queries, keys, positional, teacher_values, student_values


@pytest.mark.parametrize("valid", [np.ones((2, 3), bool), np.array([[True, False, True], [False, False, True]])])
def test_attention_and_loss_match_numpy(valid):
    queries, keys, positional, teacher_values, student_values = _case()
    attention = afd_attention(queries, keys, positional, valid).numpy()
    expected_attention = numpy_attention(queries, keys, positional, valid)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-7)
    assert np.all(attention[:, ~valid] == 0.0)
    loss = afd_loss(attention, teacher_values, student_values).numpy()
    assert loss.shape == (4,) and loss.dtype == np.float32
    np.testing.assert_allclose(loss, numpy_afd(expected_attention, teacher_values, student_values), rtol=1e-5)


def test_identical_values_give_zero_and_batch_of_one_works():
    queries, keys, positional, teacher_values, _ = _case(seed=1, batch=1)
    student_values = [np.repeat(value[:, None], 3, axis=1) for value in teacher_values]
    attention = afd_attention(queries, keys, positional)
    np.testing.assert_allclose(afd_loss(attention, teacher_values, student_values).numpy(), [0.0], atol=1e-7)


def test_teacher_values_get_no_gradient_but_queries_do():
    queries, keys, positional, teacher_values, student_values = _case(seed=2)
    queries, teacher_value = tf.Variable(queries), tf.Variable(teacher_values[0])
    with tf.GradientTape() as tape:
        loss = afd_loss(afd_attention(queries, keys, positional), [teacher_value, teacher_values[1]], student_values)
    query_grad, teacher_grad = tape.gradient(loss, [queries, teacher_value])
    assert teacher_grad is None and float(tf.reduce_max(tf.abs(query_grad))) > 0


def test_spatial_energy_is_channel_mean_of_squares():
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(spatial_energy(x).numpy(), (x.astype(np.float64) ** 2).mean(-1), rtol=1e-6)
