"""ResNet-18 pooled features: keras-hub's ResNetBackbone cut before its last ReLU."""

from __future__ import annotations

import re

import keras
import keras_hub

RESNET18_FEATURE_DIM = 512

# ResNet-18 (He et al., 2016, Table 1): basic blocks, no fc.
_RESNET18_ARGS = dict(
    input_conv_filters=[64],
    input_conv_kernel_sizes=[7],
    stackwise_num_filters=[64, 128, 256, 512],
    stackwise_num_blocks=[2, 2, 2, 2],
    stackwise_num_strides=[1, 2, 2, 2],
    block_type="basic_block",
    use_pre_activation=False,
)


def kaiming_fan_out():
    """PyTorch's ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``.

    An untruncated normal with variance ``2 / (kh * kw * out_channels)``, the
    initialization torchvision's ResNet (and the reference code) uses for convs.
    """
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")


def resnet18_trunk(channels: int, name: str = "resnet18_trunk", with_hint: bool = False) -> keras.Model:
    """ResNet-18 from the image to the last residual sum, before the last ReLU.

    The reference PyTorch code pools ``layer4``'s output *before* its final ReLU
    (the residual sum of the last basic block) and uses that as the feature the
    distillation losses compare. keras-hub names that sum
    ``stack3_block1_add`` (followed by the ReLU ``stack3_block1_out``); we cut the
    backbone's graph there. The backbone is built from its config with random
    weights; nothing is downloaded.

    ``ResNetBackbone`` has no argument for the kernel initializer, so after
    building it every convolution kernel is redrawn with the reference code's
    Kaiming-normal fan-out initialization (`kaiming_fan_out`).

    Args:
        channels: number of input channels (1 for spectrograms, 3 for frames);
            height and width are left free.
        name: name of the returned model.
        with_hint: also return the third stage's output (torchvision's
            ``layer3``, ``(batch, ceil(H/16), ceil(W/16), 256)``), the intermediate
            map that hint-based baselines (C2KD proxies, AFD) read.

    Returns:
        A functional `keras.Model` mapping ``(batch, H, W, channels)`` to the
        ``(batch, ceil(H/32), ceil(W/32), 512)`` pre-ReLU feature map (or to
        ``[layer3 map, that map]`` with ``with_hint``).

    Example:
        >>> trunk = resnet18_trunk(channels=1)
        >>> trunk.output.shape
        (None, None, None, 512)
    """
    backbone = keras_hub.models.ResNetBackbone(
        **_RESNET18_ARGS, image_shape=(None, None, channels)
    )
    initializer = kaiming_fan_out()
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(initializer(layer.kernel.shape, dtype=layer.kernel.dtype))
    last_stack = len(_RESNET18_ARGS["stackwise_num_filters"]) - 1
    last_sum = _last_residual_sum(backbone, last_stack)
    if not with_hint:
        return keras.Model(backbone.input, last_sum.output, name=name)
    third_stage = backbone.get_layer(f"stack{last_stack - 1}_block1_out")  # layer3, post-ReLU
    return keras.Model(backbone.input, [third_stage.output, last_sum.output], name=name)


def _last_residual_sum(backbone: keras.Model, last_stack: int) -> keras.layers.Layer:
    """The ``Add`` layer of the last block of the last stack (highest block index)."""
    pattern = re.compile(rf"^stack{last_stack}_block(\d+)_add$")
    sums = {
        int(match.group(1)): layer
        for layer in backbone.layers
        if (match := pattern.match(layer.name)) and isinstance(layer, keras.layers.Add)
    }
    if not sums:
        raise RuntimeError(
            f"no layer named 'stack{last_stack}_block<i>_add' in keras-hub's ResNetBackbone; "
            "its layer names changed, update fdkd_tf/models/resnet.py "
            f"(layers end with: {[layer.name for layer in backbone.layers[-4:]]})"
        )
    return sums[max(sums)]


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FoldFrames(keras.layers.Layer):
    """``(batch, T, H, W, C)`` clips -> ``(batch * T, H, W, C)`` images.

    Lets a 2-D backbone see every frame of a clip as one image of a larger batch,
    as the reference code does for its T video frames.

    Example:
        >>> FoldFrames()(np.zeros((2, 3, 8, 8, 3))).shape
        (6, 8, 8, 3)
    """

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        return keras.ops.reshape(inputs, (-1, shape[2], shape[3], shape[4]))

    def compute_output_shape(self, input_shape):
        batch, frames = input_shape[0], input_shape[1]
        folded = None if batch is None or frames is None else batch * frames
        return (folded, *input_shape[2:])


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FrameAverage(keras.layers.Layer):
    """``(batch * T, ...)`` per-frame tensors -> ``(batch, ...)`` averaged over the T frames.

    Undoes `FoldFrames` and pools over time. Averaging the per-frame global
    average pools equals one average over (T, H, W), since all frames share H and W.

    Args:
        num_frames: T, the frames per clip.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
        >>> FrameAverage(3)(np.arange(6.0).reshape(6, 1)).numpy().tolist()
        [[1.0], [4.0]]
    """

    def __init__(self, num_frames: int, **kwargs):
        super().__init__(**kwargs)
        self.num_frames = int(num_frames)

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        per_clip = keras.ops.reshape(inputs, (-1, self.num_frames, *[shape[i] for i in range(1, len(inputs.shape))]))
        return keras.ops.mean(per_clip, axis=1)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        return (None if batch is None else batch // self.num_frames, *input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update({"num_frames": self.num_frames})
        return config


def resnet18_features(inputs, spec, name: str = "resnet18"):
    """Pooled 512-d pre-ReLU ResNet-18 feature of an image or clip batch.

    Global-average-pools the last residual sum of `resnet18_trunk`, as the
    reference code does; the classification head applies the ReLU afterwards.
    A clip input ``(batch, T, H, W, C)`` goes through the 2-D trunk as
    ``batch * T`` images (`FoldFrames`); its feature is the average over T, H and W
    and its hint the layer3 map averaged over T (`FrameAverage`).

    Args:
        inputs: symbolic ``(batch, H, W, C)`` or ``(batch, T, H, W, C)`` tensor
            (``keras.Input``); any H, W and C (e.g. ``(257, 1004, 1)``
            spectrograms, ``(224, 224, 3)`` frames, ``(3, 224, 224, 3)`` clips);
            T must be known.
        spec: the `ModelSpec`; ``spec.feature_dim`` is ignored, the ResNet-18
            feature is always 512-d (use ``distill.projection`` to match sizes).
        name: name of the nested trunk model is ``f"{name}_trunk"``.

    Returns:
        ``{"features": (batch, 512) pooled pre-ReLU feature, "hint": layer3 map
        (batch, ceil(H/16), ceil(W/16), 256)}``.

    Raises:
        ValueError: when the input is not an image or clip, or has an unknown
            channel count or (clips) an unknown number of frames.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> out = resnet18_features(keras.Input((64, 64, 3)), ModelSpec("resnet18"))
        >>> out["features"].shape, out["hint"].shape
        ((None, 512), (None, 4, 4, 256))
    """
    del spec  # the ResNet-18 architecture is fixed; feature_dim does not apply
    input_shape = tuple(inputs.shape[1:])
    if len(input_shape) not in (3, 4):
        raise ValueError(
            f"arch 'resnet18' expects images of shape (height, width, channels) or clips "
            f"(time, height, width, channels), got input_shape {input_shape} of rank "
            f"{len(input_shape)}; use arch 'mlp' for vector views, or reshape the view "
            "to (height, width, channels)"
        )
    channels = input_shape[-1]
    if channels is None:
        raise ValueError(
            f"arch 'resnet18' needs a known channel count, got input_shape {input_shape}"
        )
    num_frames = input_shape[0] if len(input_shape) == 4 else None
    if len(input_shape) == 4 and num_frames is None:
        raise ValueError(
            f"arch 'resnet18' needs a known number of frames for clips, got input_shape {input_shape}"
        )
    images = FoldFrames(name="fold_frames")(inputs) if num_frames else inputs  # (batch * T, H, W, C)
    trunk = resnet18_trunk(channels, name=f"{name}_trunk", with_hint=True)
    hint, feature_map = trunk(images)  # (batch*T, H/16, W/16, 256), (batch*T, H/32, W/32, 512) pre-ReLU
    if not num_frames:
        features = keras.layers.GlobalAveragePooling2D(name="features")(feature_map)  # (batch, 512)
        return {"features": features, "hint": hint}
    frame_features = keras.layers.GlobalAveragePooling2D(name="frame_features")(feature_map)  # (batch*T, 512)
    features = FrameAverage(num_frames, name="features")(frame_features)  # (batch, 512)
    hint = FrameAverage(num_frames, name="hint")(hint)  # (batch, H/16, W/16, 256)
    return {"features": features, "hint": hint}
