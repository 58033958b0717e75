"""The student's inference path: input (or raw waveform) -> logits and probabilities.

A trained ``student.keras`` returns ``{"features", "logits", "hint"}`` because the
distillation losses read the pooled feature and the hint. An app needs only the
student's own head, so the exported graph keeps the backbone and that head and
drops everything else: no teacher, no band heads, no projection.
"""

from __future__ import annotations

from typing import Optional

import keras

#: the name of the SavedModel / TFLite signature every exported model carries
SERVING_SIGNATURE = "serving_default"
#: signature input name for a model fed with the student modality's own input
INPUT_NAME = "inputs"
#: signature input name for a model that starts from the raw audio waveform
WAVEFORM_INPUT_NAME = "waveform"
#: signature outputs, in this order
OUTPUT_NAMES = ("logits", "probabilities")


def build_inference_model(
    student: keras.Model,
    frontend: Optional[keras.layers.Layer] = None,
    waveform_samples: Optional[int] = None,
) -> keras.Model:
    """Builds the functional model that is exported: (front end) + backbone + own head.

    Args:
        student: a classifier from `fdkd_tf.models.build_classifier` (or a loaded
            ``student.keras``) with a ``logits`` output.
        frontend: optional layer mapping ``(batch, samples)`` waveforms to the
            student's input (e.g. `fdkd_tf.layers.AudioFrontend`); it then runs
            inside the exported graph.
        waveform_samples: number of samples of one waveform; required with
            ``frontend``.

    Returns:
        A `keras.Model` with one input named ``inputs`` (or ``waveform``) and the
        dict output ``{"logits": (batch, classes), "probabilities": softmax}``.

    Raises:
        ValueError: if ``student`` has no ``logits`` output, or the front end's
            output shape does not match the student's input shape.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> from fdkd_tf.models import build_classifier
        >>> student = build_classifier(ModelSpec("mlp"), (76,), 10, "student")
        >>> sorted(build_inference_model(student).output)
        ['logits', 'probabilities']
    """
    outputs = student.output
    if not isinstance(outputs, dict) or "logits" not in outputs:
        raise ValueError(
            f"model {student.name!r} has no 'logits' output (outputs: "
            f"{sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__}); "
            "export a classifier built by fdkd_tf.models.build_classifier"
        )
    # Reuse the trained graph only up to the student's own head.
    backbone_and_head = keras.Model(student.input, outputs["logits"], name=f"{student.name}_logits")
    student_shape = tuple(student.input.shape[1:])
    if frontend is None:
        inputs = keras.Input(shape=student_shape, name=INPUT_NAME)
        model_input = inputs
    else:
        if not waveform_samples or waveform_samples <= 0:
            raise ValueError(f"waveform_samples must be a positive integer with a front end, got {waveform_samples!r}")
        inputs = keras.Input(shape=(int(waveform_samples),), name=WAVEFORM_INPUT_NAME)
        model_input = frontend(inputs)  # (batch, freq, time, 1)
        produced = tuple(model_input.shape[1:])
        if produced != student_shape:
            raise ValueError(
                f"the audio front end maps {waveform_samples} samples to {produced}, but the "
                f"student expects {student_shape}; pass the waveform length the run was "
                "prepared with (--waveform-samples)"
            )
    logits = backbone_and_head(model_input)  # (batch, classes)
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, {"logits": logits, "probabilities": probabilities}, name=f"{student.name}_inference")
