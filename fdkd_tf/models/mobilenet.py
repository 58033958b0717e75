"""MobileNetV2 pooled features: keras-hub's MobileNetBackbone configured as V2.

keras-hub 0.32 ships presets for MobileNetV3 only, but its `MobileNetBackbone`
(depthwise stem block, inverted residual blocks, a final 1x1 conv) expresses
MobileNetV2 (Sandler et al., 2018, Table 2) when given the V2 widths, strides and
ReLU6 activations below. The paper uses MobileNetV2 for the CrisisMMD images.
"""

from __future__ import annotations

import keras
import keras_hub

from fdkd_tf.models.resnet import kaiming_fan_out

MOBILENET_V2_FEATURE_DIM = 1280

# MobileNetV2 1.0 (Sandler et al., 2018, Table 2): after the 3x3/2 stem of 32
# filters, a bottleneck without expansion (t=1, c=16) -- keras-hub's depthwise
# block -- then bottlenecks (t, c, n, s) = (6,24,2,2) (6,32,3,2) (6,64,4,2)
# (6,96,3,1) (6,160,3,2) (6,320,1,1), and a 1x1 conv to 1280. keras-hub's
# ``stackwise_expansion`` is the expanded width itself (t * input width).
_V2_STAGES = [  # (output width, blocks, first stride)
    (24, 2, 2),
    (32, 3, 2),
    (64, 4, 2),
    (96, 3, 1),
    (160, 3, 2),
    (320, 1, 1),
]
_V2_EXPANSION = 6
_V2_STEM_FILTERS = 32
_V2_FIRST_BLOCK_FILTERS = 16
# Index of the stage whose output is the hint: the 96-wide stage, the last one
# at 1/16 resolution (the counterpart of ResNet's layer3).
_HINT_STAGE = 3


def mobilenet_v2_backbone_args() -> dict:
    """`keras_hub.models.MobileNetBackbone` arguments that build MobileNetV2 1.0.

    Returns:
        A dict of constructor arguments (``image_shape`` left to the caller).

    Example:
        >>> args = mobilenet_v2_backbone_args()
        >>> args["stackwise_num_blocks"]
        [2, 3, 4, 3, 3, 1]
    """
    expansion, filters, strides = [], [], []
    in_width = _V2_FIRST_BLOCK_FILTERS
    for width, blocks, stride in _V2_STAGES:
        stage_expansion, stage_filters, stage_strides = [], [], []
        for block in range(blocks):
            stage_expansion.append(_V2_EXPANSION * in_width)
            stage_filters.append(width)
            stage_strides.append(stride if block == 0 else 1)
            in_width = width
        expansion.append(stage_expansion)
        filters.append(stage_filters)
        strides.append(stage_strides)
    blocks = [len(stage) for stage in filters]
    return dict(
        stackwise_expansion=expansion,
        stackwise_num_blocks=blocks,
        stackwise_num_filters=filters,
        stackwise_kernel_size=[[3] * n for n in blocks],
        stackwise_num_strides=strides,
        stackwise_se_ratio=[[None] * n for n in blocks],
        stackwise_activation=[["relu6"] * n for n in blocks],
        stackwise_padding=[[1] * n for n in blocks],
        output_num_filters=MOBILENET_V2_FEATURE_DIM,
        depthwise_filters=_V2_FIRST_BLOCK_FILTERS,
        depthwise_stride=1,
        depthwise_residual=False,
        last_layer_filter=MOBILENET_V2_FEATURE_DIM,
        squeeze_and_excite=None,
        input_activation="relu6",
        output_activation="relu6",
        input_num_filters=_V2_STEM_FILTERS,
    )


def mobilenet_v2_trunk(preset: str | None = None, name: str = "mobilenet_v2_trunk") -> keras.Model:
    """MobileNetV2 from the image to its last 1x1 conv + BatchNorm, before the activation.

    The backbone's last block (``ConvBnActBlock``: 1x1 conv to 1280, BatchNorm,
    activation) is replayed without its activation, so the pooled feature is
    the pre-activation one, as for ResNet-18 (the classification head applies
    the ReLU). keras-hub hard-codes hard-swish in that block; skipping it also
    keeps the network a true MobileNetV2 up to the feature.

    Randomly initialised convolutions are redrawn with the Kaiming-normal fan-out
    initialisation of torchvision's MobileNetV2 (and of our ResNet-18,
    `fdkd_tf.models.resnet.kaiming_fan_out`); keras-hub offers no initializer
    argument, and its Glorot default shrinks the signal through the 50-odd convs.

    Args:
        preset: a local keras-hub preset directory of a `MobileNetBackbone`
            (e.g. MobileNetV2 ImageNet weights you ported and saved with
            ``save_to_preset``); its architecture is used as saved. None builds
            MobileNetV2 1.0 from `mobilenet_v2_backbone_args` with random weights.
            Nothing is ever downloaded.
        name: name of the returned model.

    Returns:
        A functional `keras.Model` mapping ``(batch, H, W, 3)`` images to
        ``[hint, feature map]``: the last 1/16-resolution stage (96 channels for
        V2) and the ``(batch, ceil(H/32), ceil(W/32), 1280)`` pre-activation map.

    Raises:
        ValueError: if ``preset`` is not a local directory.

    Example:
        >>> trunk = mobilenet_v2_trunk()
        >>> [tuple(t.shape) for t in trunk.outputs]
        [(None, None, None, 96), (None, None, None, 1280)]
    """
    if preset is None:
        backbone = keras_hub.models.MobileNetBackbone(
            **mobilenet_v2_backbone_args(), image_shape=(None, None, 3)
        )
        initializer = kaiming_fan_out()
        for layer in _sublayers(backbone):
            if isinstance(layer, keras.layers.Conv2D):
                layer.kernel.assign(initializer(layer.kernel.shape, dtype=layer.kernel.dtype))
    else:
        _check_local_preset(preset, "mobilenet_v2")
        backbone = keras_hub.models.MobileNetBackbone.from_preset(preset, image_shape=(None, None, 3))
    num_stages = len(backbone.stackwise_num_blocks)
    last_block = backbone.get_layer(f"block_{num_stages + 1}_0")  # ConvBnActBlock
    last_stage_output = last_block.input  # (batch, h, w, 320) for V2
    pre_activation = last_block.batch_normalization(last_block.conv(last_stage_output))
    hint_stage = min(_HINT_STAGE, num_stages - 1)
    hint_block = backbone.get_layer(
        f"block_{hint_stage + 1}_{backbone.stackwise_num_blocks[hint_stage] - 1}"
    )
    return keras.Model(backbone.input, [hint_block.output, pre_activation], name=name)


def _sublayers(layer):
    """Every layer nested in ``layer`` (keras-hub's blocks hold their convs as attributes)."""
    return layer._flatten_layers(include_self=False, recursive=True)


def _check_local_preset(preset: str, arch: str) -> None:
    """Refuses anything but an existing local directory (no hub handles, no downloads)."""
    import os

    if not os.path.isdir(preset):
        raise ValueError(
            f"model preset for arch {arch!r} must be a local keras-hub preset directory, got "
            f"{preset!r} (not a directory); presets are never downloaded: save one with "
            "save_to_preset on a machine that has it and point model.<side>.preset at it"
        )


def mobilenet_v2_features(inputs, spec, name: str = "mobilenet_v2"):
    """Pooled 1280-d pre-activation MobileNetV2 feature of an image batch.

    Global-average-pools the output of `mobilenet_v2_trunk` (the last 1x1 conv
    and BatchNorm, before the activation), like the ResNet-18 feature; the
    classification head applies the ReLU.

    Args:
        inputs: symbolic ``(batch, H, W, 3)`` tensor (``keras.Input``), ImageNet-
            normalised RGB.
        spec: the `ModelSpec`; ``spec.preset`` (a local preset directory) loads
            weights, ``spec.size`` must be ``base``; ``feature_dim`` is ignored.
        name: the nested trunk model is named ``f"{name}_trunk"``.

    Returns:
        ``{"features": (batch, 1280), "hint": (batch, H/16, W/16, 96)}``.

    Raises:
        ValueError: for an input that is not an RGB image, or an unknown size.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> out = mobilenet_v2_features(keras.Input((64, 64, 3)), ModelSpec("mobilenet_v2"))
        >>> out["features"].shape, out["hint"].shape
        ((None, 1280), (None, 4, 4, 96))
    """
    input_shape = tuple(inputs.shape[1:])
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(
            f"arch 'mobilenet_v2' expects RGB images of shape (height, width, 3), got "
            f"input_shape {input_shape}"
        )
    if spec.size != "base":
        raise ValueError(
            f"arch 'mobilenet_v2' has one size, 'base' (MobileNetV2 1.0), got size {spec.size!r}"
        )
    trunk = mobilenet_v2_trunk(spec.preset, name=f"{name}_trunk")
    hint, feature_map = trunk(inputs)  # (batch, H/16, W/16, 96), (batch, H/32, W/32, 1280)
    features = keras.layers.GlobalAveragePooling2D(name="features")(feature_map)  # (batch, 1280)
    return {"features": features, "hint": hint}
