"""C2KD losses (Huo et al., CVPR 2024, "C2KD: Bridging the Modality Gap for
Cross-Modal Knowledge Distillation"): proxy mutual learning, the non-target KL
between the two models' proxies, and the Kendall-tau on-the-fly selection."""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.reduction import divide_no_nan


def kendall_tau(x, y):
    """Per-row Kendall rank correlation (tau-b, as `scipy.stats.kendalltau`).

    ``tau_b = (P - Q) / sqrt((n0 - n1)(n0 - n2))`` over the ``n0 = C(C-1)/2``
    pairs of entries of a row: ``P - Q`` is the sum of
    ``sign(x_i - x_j) * sign(y_i - y_j)`` and ``n0 - n1`` (``n0 - n2``) the number
    of pairs untied in ``x`` (``y``). Pure `keras.ops`, ``O(C^2)`` per row.

    Args:
        x: ``(batch, C)``.
        y: ``(batch, C)``.

    Returns:
        ``(batch,)`` float32 in ``[-1, 1]``; 0 where a row of ``x`` or ``y`` is
        constant (scipy gives NaN there).

    Example:
        >>> import numpy as np
        >>> float(kendall_tau(np.array([[1.0, 2.0, 3.0]], "float32"), np.array([[3.0, 2.0, 1.0]], "float32"))[0])
        -1.0
    """
    x = ops.cast(x, "float32")
    y = ops.cast(y, "float32")
    sign_x = ops.sign(ops.expand_dims(x, 2) - ops.expand_dims(x, 1))  # (batch, C, C)
    sign_y = ops.sign(ops.expand_dims(y, 2) - ops.expand_dims(y, 1))
    # Every unordered pair appears twice in the full C x C matrix; the factor cancels.
    concordance = ops.sum(sign_x * sign_y, axis=(1, 2))
    untied_x = ops.sum(ops.abs(sign_x), axis=(1, 2))
    untied_y = ops.sum(ops.abs(sign_y), axis=(1, 2))
    return divide_no_nan(concordance, ops.sqrt(untied_x * untied_y))


def on_the_fly_selection(proxy_logits_a, proxy_logits_b, threshold: float = 0.0):
    """C2KD's on-the-fly selection: 1 where the two proxies rank classes alike.

    A sample takes part in the cross-modal (non-target) distillation only when
    the Kendall tau between the two proxies' logit vectors exceeds
    ``threshold`` (0 in the paper): samples whose soft labels disagree in
    ranking are the ones whose knowledge does not transfer across the modality
    gap.

    Args:
        proxy_logits_a: ``(batch, classes)``.
        proxy_logits_b: ``(batch, classes)``.
        threshold: the tau a sample must exceed.

    Returns:
        ``(batch,)`` float32 mask of 0 and 1, without gradient.
    """
    tau = kendall_tau(ops.stop_gradient(proxy_logits_a), ops.stop_gradient(proxy_logits_b))
    return ops.cast(tau > threshold, "float32")


def _mask_true_class(logits, labels):
    """Logits with the true class's entry set to 0 (C2KD's non-target masking)."""
    true_class = ops.one_hot(ops.cast(labels, "int32"), ops.shape(logits)[-1], dtype=logits.dtype)
    return logits * (1.0 - true_class)


def non_target_kl(student_logits, teacher_logits, labels, temperature: float = 1.0):
    """Per-sample ``KL(softmax(t~ / T) || softmax(s~ / T))`` with the true class zeroed.

    ``s~`` and ``t~`` are the logits with the true class's logit set to 0 (not
    removed), as in C2KD: the non-target classes carry the modality-general
    "dark knowledge" while the target class's confidence is modality specific.

    Args:
        student_logits: ``(batch, classes)``, the side that learns.
        teacher_logits: ``(batch, classes)``, the other side; gradient stopped.
        labels: ``(batch,)`` integer labels.
        temperature: softening temperature (1 in C2KD).

    Returns:
        ``(batch,)`` float32 losses; zero when both logit vectors agree off the
        true class.
    """
    student_logits = _mask_true_class(ops.cast(student_logits, "float32"), labels) / temperature
    teacher_logits = ops.stop_gradient(_mask_true_class(ops.cast(teacher_logits, "float32"), labels)) / temperature
    teacher_log_probs = ops.log_softmax(teacher_logits, axis=-1)
    student_log_probs = ops.log_softmax(student_logits, axis=-1)
    return ops.sum(ops.exp(teacher_log_probs) * (teacher_log_probs - student_log_probs), axis=-1)


def selected_non_target_kl(student_proxy_logits, teacher_proxy_logits, labels, selection, temperature: float = 1.0):
    """`non_target_kl` kept only for the samples of ``selection`` (others give 0).

    The batch mean of this is C2KD's cross-modal term: the sum over the
    selected samples divided by the whole batch size, as in the original.

    Args:
        student_proxy_logits: ``(batch, classes)`` the learning proxy.
        teacher_proxy_logits: ``(batch, classes)`` the other model's proxy.
        labels: ``(batch,)`` integer labels.
        selection: ``(batch,)`` 0/1 mask from `on_the_fly_selection`.
        temperature: softening temperature.

    Returns:
        ``(batch,)`` float32 losses.
    """
    return ops.cast(selection, "float32") * non_target_kl(student_proxy_logits, teacher_proxy_logits, labels, temperature)
