"""``afd``: attention-based feature distillation (Ji, Heo and Park, AAAI 2021, "Show,
Attend and Distill: Knowledge Distillation via Attention-based Feature Matching"),
one of the paper's feature baselines.

AFD lets every teacher level choose, by attention, which student levels imitate
it, instead of a hand-made one-to-one link. Our classifiers expose two levels per
model, ``hint`` (ResNet ``layer3`` map, small-CNN last conv map, MLP last hidden
vector) and the pooled ``features``, so the attention runs over 2 teacher x 2
student levels:

- Query of teacher level ``t``: ``BN(Dense(GAP(t)))`` (no ReLU); key of student
  level ``s``: ``ReLU(BN(Dense(GAP(s))))``, expanded by a bilinear
  ``BN(Dense(d * T))`` into one key per teacher level; learned level embeddings
  ``p_t``, ``p_s`` add ``p_t . p_s``; ``d = qk_dim`` (128), as the original. GAP is
  the identity on vectors.
- Values, as the original for maps: a teacher map's value is its L2-normalized
  spatial energy ``mean_c(t^2)``; a student map's value for that teacher level is
  its own energy, adaptive-average-pooled to the teacher map's size, normalized.
  Vectors have no positions, so a teacher *vector* level (or a teacher map when
  the student has no map of the same rank) takes its L2-normalized GAP vector as
  value, and each student level reaches it through a learned Dense (the FitNet
  regressor's role), then is normalized. A student vector cannot express a
  spatial map, so it gets no attention from a spatial teacher level.
- ``L = afd_weight * sum_t sum_s alpha_ts * mean((v_hat_ts - v_t)^2)`` with
  ``afd_weight`` (the original's beta) 200 (`fdkd_tf.losses.afd_loss`). The
  original script also adds Hinton KD (weight 0.9, T 4): ``kd_weight``, 0 here.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import afd_attention, afd_loss, kd_loss
from fdkd_tf.losses.afd import l2_normalize, spatial_energy
from fdkd_tf.models.classification_head import xavier_normal
from fdkd_tf.settings import positive, positive_integer, weight


@dataclass
class AFDConfig:
    """AFD (Ji et al., 2021): attention-based matching of the hint and feature levels.

    ``afd_weight`` (the original's beta) 200 and ``qk_dim`` 128 are the original
    defaults; its script also adds Hinton KD (0.9, T 4), off here by default
    (``kd_weight: 0``) so that AFD stays a pure feature baseline.
    """

    afd_weight: float = weight(200.0)
    qk_dim: int = positive_integer(128)
    kd_weight: float = weight(0.0)
    temperature: float = positive(4.0)
    ce_weight: float = weight(1.0)

#: The classifier outputs AFD matches, shallow to deep.
LEVELS = ("hint", "features")


def adaptive_pool_matrix(in_size: int, out_size: int) -> np.ndarray:
    """``(out_size, in_size)`` averaging matrix of 1-D adaptive average pooling.

    Output ``i`` averages inputs ``floor(i * in / out)`` to ``ceil((i + 1) * in / out)``
    (exclusive), the bins of PyTorch's ``AdaptiveAvgPool``; upsampling repeats.
    """
    matrix = np.zeros((out_size, in_size), dtype="float32")
    for index in range(out_size):
        start = (index * in_size) // out_size
        end = -((-(index + 1) * in_size) // out_size)
        matrix[index, start:end] = 1.0 / (end - start)
    return matrix


def _positions(shape) -> tuple:
    """The positional sizes of a level: ``()`` for a vector, ``(H, W)`` for a map."""
    return tuple(shape[1:-1])


def comparison_plan(teacher_shapes, student_shapes) -> list:
    """How each teacher level is compared with the student levels.

    A teacher map is compared *spatially* with the student maps of the same rank
    (their energy pooled to its size); a teacher vector, or a teacher map when
    the student has no map of that rank, is compared as a *vector* with every
    student level (each through a learned Dense).

    Args:
        teacher_shapes: shapes (with batch axis) of the teacher levels.
        student_shapes: shapes of the student levels.

    Returns:
        Per teacher level, ``("spatial", value size, {student level: [pool
        matrix per positional axis]})`` or ``("vector", value size, None)``.
    """
    plan = []
    for t_shape in teacher_shapes:
        t_positions = _positions(t_shape)
        pools = {
            s_index: [adaptive_pool_matrix(size_s, size_t) for size_s, size_t in zip(_positions(s_shape), t_positions)]
            for s_index, s_shape in enumerate(student_shapes)
            if t_positions and len(_positions(s_shape)) == len(t_positions)
        }
        if pools:
            plan.append(("spatial", int(np.prod(t_positions)), pools))
        else:
            plan.append(("vector", int(t_shape[-1]), None))
    return plan


def _descriptor(level):
    """Channel descriptor: the average over positions (a vector stays as is)."""
    level = ops.cast(level, "float32")
    rank = len(level.shape)
    return level if rank == 2 else ops.mean(level, axis=tuple(range(1, rank - 1)))


def _pooled_energy(level, pool_matrices):
    """Spatial energy of a map pooled to a teacher map's size, flattened: ``(batch, n_t)``."""
    energy = spatial_energy(level)  # (batch, *positions)
    for axis, matrix in enumerate(pool_matrices, start=1):
        energy = ops.tensordot(energy, ops.convert_to_tensor(matrix), axes=[[axis], [1]])  # pooled axis moves last
        energy = ops.moveaxis(energy, -1, axis)
    return ops.reshape(energy, (ops.shape(energy)[0], -1))


@keras.saving.register_keras_serializable(package="fdkd_tf")
class _LevelEmbeddings(keras.layers.Layer):
    """Learned level positions ``p_t`` (T, d) and ``p_s`` (S, d), Xavier-normal.

    Args:
        teacher_levels: number of teacher levels T.
        student_levels: number of student levels S.
        dim: query/key size d.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, teacher_levels: int, student_levels: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.teacher_levels, self.student_levels, self.dim = teacher_levels, student_levels, dim
        self.teacher_positions = self.add_weight(shape=(teacher_levels, dim), initializer=xavier_normal(), name="teacher_positions")
        self.student_positions = self.add_weight(shape=(student_levels, dim), initializer=xavier_normal(), name="student_positions")

    def call(self, unused_inputs=None):
        """``(T, S)`` logits ``p_t . p_s``."""
        return ops.matmul(ops.convert_to_tensor(self.teacher_positions), ops.transpose(ops.convert_to_tensor(self.student_positions)))

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_levels": self.teacher_levels,
            "student_levels": self.student_levels,
            "dim": self.dim,
        }


def _sequential(layers, input_dim: int, name: str):
    model = keras.Sequential(layers, name=name)
    model.build((None, input_dim))
    return model


def _batch_norm(name: str):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class AttentionFeatureDistillation(Distiller):
    """AFD over the ``hint`` and ``features`` levels (config ``distill.afd``)."""

    method = "afd"
    settings_class = AFDConfig
    teacher_outputs = ("features", "hint", "logits")

    def term_names(self):
        return ("ce", "afd", "kd") if self.settings.kd_weight else ("ce", "afd")

    def build_modules(self, direction):
        qk_dim = self.settings.qk_dim
        prefix = f"{direction.name}_afd"
        teacher_shapes = [tuple(direction.teacher.output[level].shape) for level in LEVELS]
        student_shapes = [tuple(direction.student.output[level].shape) for level in LEVELS]
        for model, shapes in ((direction.teacher, teacher_shapes), (direction.student, student_shapes)):
            for level, shape in zip(LEVELS, shapes):
                if any(size is None for size in shape[1:]):
                    raise ValueError(
                        f"afd needs static sizes for {model.name}'s {level!r} output, got {shape}; "
                        "give the model a fixed input shape"
                    )
        levels_t, levels_s = len(teacher_shapes), len(student_shapes)
        modules = {"positions": _LevelEmbeddings(levels_t, levels_s, qk_dim, name=f"{prefix}_positions")}
        for index, shape in enumerate(teacher_shapes):
            modules[f"query_{index}"] = _sequential(
                [keras.layers.Dense(qk_dim, name=f"{prefix}_query{index}_dense"), _batch_norm(f"{prefix}_query{index}_bn")],
                shape[-1],
                f"{prefix}_query{index}",
            )
        for index, shape in enumerate(student_shapes):
            modules[f"key_{index}"] = _sequential(
                [
                    keras.layers.Dense(qk_dim, name=f"{prefix}_key{index}_dense"),
                    _batch_norm(f"{prefix}_key{index}_bn"),
                    keras.layers.ReLU(name=f"{prefix}_key{index}_relu"),
                ],
                shape[-1],
                f"{prefix}_key{index}",
            )
        modules["bilinear"] = _sequential(
            [keras.layers.Dense(qk_dim * levels_t, name=f"{prefix}_bilinear_dense"), _batch_norm(f"{prefix}_bilinear_bn")],
            qk_dim,
            f"{prefix}_bilinear",
        )
        for t_index, (kind, _, _) in enumerate(comparison_plan(teacher_shapes, student_shapes)):
            if kind != "vector":
                continue
            for s_index, s_shape in enumerate(student_shapes):
                value = keras.layers.Dense(
                    teacher_shapes[t_index][-1], kernel_initializer=xavier_normal(), name=f"{prefix}_value{t_index}_{s_index}"
                )
                value.build((None, s_shape[-1]))
                modules[f"value_{t_index}_{s_index}"] = value
        return modules

    def loss_terms(self, modules, student_out, teacher_out, labels):
        settings = self.settings
        training = getattr(self, "training_phase", False)
        teacher_levels = [teacher_out[level] for level in LEVELS]
        student_levels = [student_out[level] for level in LEVELS]
        plan = comparison_plan([tuple(x.shape) for x in teacher_levels], [tuple(x.shape) for x in student_levels])
        levels_t, levels_s = len(teacher_levels), len(student_levels)

        queries = ops.stack(
            [modules[f"query_{i}"](_descriptor(level), training=training) for i, level in enumerate(teacher_levels)], axis=1
        )  # (batch, T, d)
        keys = ops.stack(
            [modules[f"key_{i}"](_descriptor(level), training=training) for i, level in enumerate(student_levels)], axis=1
        )  # (batch, S, d)
        batch = ops.shape(keys)[0]
        keys = modules["bilinear"](ops.reshape(keys, (-1, settings.qk_dim)), training=training)
        keys = ops.reshape(keys, (batch, levels_s, levels_t, settings.qk_dim))  # (batch, S, T, d)

        valid = np.zeros((levels_t, levels_s), dtype=bool)
        teacher_values, student_values = [], []
        for t_index, (kind, size, pools) in enumerate(plan):
            teacher_level = teacher_levels[t_index]
            candidates = []
            if kind == "spatial":
                teacher_values.append(l2_normalize(ops.reshape(spatial_energy(teacher_level), (batch, -1))))
                for s_index, student_level in enumerate(student_levels):
                    if s_index in pools:
                        valid[t_index, s_index] = True
                        candidates.append(l2_normalize(_pooled_energy(student_level, pools[s_index])))
                    else:
                        candidates.append(ops.zeros((batch, size)))
            else:
                teacher_values.append(l2_normalize(_descriptor(teacher_level)))
                for s_index, student_level in enumerate(student_levels):
                    valid[t_index, s_index] = True
                    candidates.append(l2_normalize(modules[f"value_{t_index}_{s_index}"](_descriptor(student_level))))
            student_values.append(ops.stack(candidates, axis=1))  # (batch, S, n_t)

        attention = afd_attention(queries, keys, modules["positions"](), ops.convert_to_tensor(valid))
        terms = self.cross_entropy_term(labels, student_out, settings.ce_weight)
        terms["afd"] = (settings.afd_weight, afd_loss(attention, teacher_values, student_values))
        if settings.kd_weight:
            terms["kd"] = (settings.kd_weight, kd_loss(student_out["logits"], teacher_out["logits"], settings.temperature))
        return terms, {}
