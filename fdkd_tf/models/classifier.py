"""build_classifier: a modality's network, features plus logits, from its ModelSpec."""

from __future__ import annotations

from typing import Callable

import keras

from fdkd_tf.models.bert import bert_features
from fdkd_tf.models.classification_head import ClassificationHead
from fdkd_tf.models.deeplab import deeplabv3plus_features
from fdkd_tf.models.mlp import mlp_features
from fdkd_tf.models.mobilenet import mobilenet_v2_features
from fdkd_tf.models.resnet import resnet18_features
from fdkd_tf.models.small_cnn import small_cnn_features

# arch name -> function(inputs, spec, name) returning {"features": (batch, D) pre-ReLU
# feature, "hint": an intermediate map or vector for hint-based baselines}.
# Dense-prediction archs (segmentation) return a (batch, h, w, D) feature map and
# "output_stride" (input size / h); their per-pixel logits are upsampled to the input.
# Adding an architecture = one module + one entry here.
FEATURE_BUILDERS: dict[str, Callable] = {
    "resnet18": resnet18_features,
    "small_cnn": small_cnn_features,
    "mlp": mlp_features,
    "bert": bert_features,
    "mobilenet_v2": mobilenet_v2_features,
    "deeplabv3plus": deeplabv3plus_features,
}

# arch name -> dtype of its input, where not float32 (text models read int32 token ids).
INPUT_DTYPES: dict[str, str] = {"bert": "int32"}


def build_classifier(spec, input_shape: tuple, num_classes: int, name: str) -> keras.Model:
    """Builds the functional network of one modality: features and logits.

    Every distillation method needs both the pooled feature (what feature
    losses such as FD-CMKD's frequency-decoupled alignment compare) and the
    logits (what cross-entropy and logit KD use), so each network returns both.
    ``features`` is taken *before* the final ReLU, as in the reference code;
    ``logits = ClassificationHead(num_classes)(features)`` applies the ReLU.

    Args:
        spec: the `fdkd_tf.config.ModelSpec` of this modality; ``spec.arch`` picks
            the feature extractor (see `FEATURE_BUILDERS`).
        input_shape: shape of one sample, without the batch dimension, e.g.
            ``(16, 15, 1)`` for an image view or ``(76,)`` for a vector view.
        num_classes: number of logits.
        name: name of the returned model (e.g. ``"teacher"``).

    Returns:
        A functional `keras.Model` named ``name`` with one input of
        ``input_shape`` and the dict output ``{"features": (batch, D),
        "logits": (batch, num_classes), "hint": intermediate}``; D is 512 for
        ``resnet18`` and ``spec.feature_dim`` otherwise; ``hint`` is the third
        stage (ResNet ``layer3``), the last conv block's map (small CNN) or the
        last hidden activation (MLP). A dense-prediction arch
        (``deeplabv3plus``) returns ``features`` ``(batch, H/4, W/4, 256)`` and
        ``logits`` ``(batch, H, W, num_classes)``: the head acts on every pixel of
        the feature map and its logits are upsampled bilinearly to the input size.

    Raises:
        ValueError: for an unknown ``spec.arch`` or an input rank the
            architecture does not accept.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> model = build_classifier(ModelSpec("mlp"), (76,), 10, "student")
        >>> sorted(model.output)
        ['features', 'hint', 'logits']
    """
    builder = FEATURE_BUILDERS.get(spec.arch)
    if builder is None:
        raise ValueError(
            f"model arch must be one of {', '.join(sorted(FEATURE_BUILDERS))}, got "
            f"arch {spec.arch!r} (model '{name}')"
        )
    inputs = keras.Input(
        shape=tuple(input_shape), dtype=INPUT_DTYPES.get(spec.arch, "float32"), name=f"{name}_input"
    )
    outputs = builder(inputs, spec, name=spec.arch)
    features = outputs["features"]  # (batch, D), pre-ReLU
    logits = ClassificationHead(num_classes, name="logits")(features)  # (batch, num_classes)
    if outputs.get("output_stride"):  # dense prediction: (batch, h, w, D) -> input-size logits
        logits = keras.layers.UpSampling2D(
            outputs["output_stride"], interpolation="bilinear", name="logits_upsampling"
        )(logits)  # (batch, H, W, num_classes)
    return keras.Model(inputs, {"features": features, "logits": logits, "hint": outputs["hint"]}, name=name)
