"""AFD feature loss (Ji, Heo and Park, AAAI 2021, "Show, Attend and Distill:
Knowledge Distillation via Attention-based Feature Matching")."""

from __future__ import annotations

import math

import numpy as np
from keras import ops


def afd_attention(queries, keys, positional_logits, valid_pairs=None):
    """Attention of each teacher level over the student levels.

    ``alpha[b, t, s] = softmax_s((q_t . k_{s,t} + p_t . p_s) / sqrt(d))``: the
    teacher level's query meets the student level's (bilinear) key, plus a
    learned level-position term, so every teacher level chooses which student
    levels should imitate it instead of a hand-made one-to-one link.

    Args:
        queries: ``(batch, T, d)`` one query per teacher level.
        keys: ``(batch, S, T, d)`` one key per student level and teacher level.
        positional_logits: ``(T, S)`` ``p_t . p_s`` of the learned level embeddings.
        valid_pairs: optional ``(T, S)`` booleans; pairs marked False get no
            attention (a student level that cannot be compared with that teacher
            level). Each teacher level needs at least one valid pair.

    Returns:
        ``(batch, T, S)`` float32 attention weights summing to 1 over ``S``.
    """
    queries = ops.cast(queries, "float32")
    keys = ops.cast(keys, "float32")
    scale = math.sqrt(int(queries.shape[-1]))
    logits = (ops.einsum("bstd,btd->bts", keys, queries) + ops.cast(positional_logits, "float32")) / scale
    if valid_pairs is not None:
        valid_pairs = ops.expand_dims(ops.cast(valid_pairs, "bool"), 0)  # (1, T, S)
        logits = ops.where(valid_pairs, logits, float(np.finfo(np.float32).min))
    return ops.softmax(logits, axis=-1)


def afd_loss(attention, teacher_values, student_values):
    """Per-sample attention-weighted feature distance.

    ``L = sum_t sum_s alpha[t, s] * mean_n (v_hat_{t,s}[n] - v_t[n])^2``, with
    ``v_t`` the teacher level's (L2-normalized) value and ``v_hat_{t,s}`` the
    student level ``s`` brought to that value's size and normalized.

    Args:
        attention: ``(batch, T, S)`` from `afd_attention`.
        teacher_values: list of ``T`` tensors ``(batch, n_t)``; gradient stopped.
        student_values: list of ``T`` tensors ``(batch, S, n_t)``.

    Returns:
        ``(batch,)`` float32 losses; zero when every attended student value
        equals its teacher value.
    """
    attention = ops.cast(attention, "float32")
    total = 0.0
    for level, (teacher_value, student_value) in enumerate(zip(teacher_values, student_values)):
        teacher_value = ops.expand_dims(ops.stop_gradient(ops.cast(teacher_value, "float32")), 1)  # (batch, 1, n_t)
        distance = ops.mean(ops.square(ops.cast(student_value, "float32") - teacher_value), axis=-1)  # (batch, S)
        total = total + ops.sum(attention[:, level, :] * distance, axis=-1)
    return total


def spatial_energy(feature_map):
    """AFD's value of a feature map: ``mean_c(f^2)`` per position, ``(batch, h, w)``."""
    return ops.mean(ops.square(ops.cast(feature_map, "float32")), axis=-1)


def l2_normalize(values):
    """Rows scaled to unit L2 norm (zero rows stay zero), over the last axis."""
    values = ops.cast(values, "float32")
    # As TensorFlow's l2_normalize(values, -1, epsilon=1e-12): the squared norm is floored.
    square_sum = ops.sum(ops.square(values), axis=-1, keepdims=True)
    return values * ops.rsqrt(ops.maximum(square_sum, 1e-12))
