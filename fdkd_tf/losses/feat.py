"""FitNet-style feature distillation (Romero et al., 2015, "FitNets: Hints for Thin
Deep Nets"), on pooled features: the paper's "Feat" baseline."""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.reduction import per_sample_mean


def feature_mse(student_features, teacher_features):
    """Per-sample mean squared error between (projected) student and teacher features.

    Args:
        student_features: ``(batch, ..., dim)``, already projected to the teacher size.
        teacher_features: same shape; gradient stopped.

    Returns:
        ``(batch,)`` float32 losses.
    """
    student_features = ops.cast(student_features, "float32")
    teacher_features = ops.stop_gradient(ops.cast(teacher_features, "float32"))
    return per_sample_mean(ops.square(student_features - teacher_features))
