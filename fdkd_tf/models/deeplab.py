"""DeepLabV3+ with a ResNet-18 encoder (keras-hub), for RGB or depth segmentation.

The paper (following C2KD) segments NYU-Depth V2 with DeepLabV3+ (Chen et al.,
2018) over an ImageNet-initialised ResNet-18. We build keras-hub's
`DeepLabV3Backbone` over keras-hub's `ResNetBackbone` and cut its graph at the
decoder's last BatchNorm: that ``(batch, H/4, W/4, 256)`` map, *before* its ReLU,
is the feature FD-CMKD decouples along channels at every pixel (as the pooled
ResNet feature is taken before its last ReLU for classification).

`fdkd_tf.models.build_classifier` then applies the shared `ClassificationHead`
(ReLU -> 1x1 Dense) at stride 4 and upsamples the logits bilinearly by
`DEEPLAB_OUTPUT_STRIDE`. Both the head and bilinear upsampling are linear per
pixel after the ReLU, so this equals keras-hub's `DeepLabV3ImageSegmenter`
(ReLU -> upsample x4 -> 1x1 conv) plus a bias, at a sixteenth of the cost.

keras-hub's ResNet has no dilated stages, so the encoder's output stride is 32
and the ASPP dilation rates are DeepLab's output-stride-16 rates (6, 12, 18)
halved: `DILATION_RATES` = (3, 6, 9). Input sides must be multiples of 32 (the
ASPP output is upsampled x8 onto the stride-4 low-level map). The model accepts any
such size eagerly; inside a `tf.function` the height and width must be static,
because Keras' bilinear ``UpSampling2D`` (used by keras-hub and for the logits)
cannot take a symbolic size (the NYU-Depth V2 pipelines give static shapes).
"""

from __future__ import annotations

import os
from typing import Optional

import keras
import keras_hub
import numpy as np

from fdkd_tf.models.resnet import _RESNET18_ARGS, kaiming_fan_out

#: ratio between the input size and the decoder feature size
DEEPLAB_OUTPUT_STRIDE = 4
#: the encoder's output stride (ResNet-18 without dilation); input sides must divide by it
ENCODER_STRIDE = 32
#: ASPP dilation rates at output stride 32 (DeepLab's OS-16 rates 6, 12, 18 halved)
DILATION_RATES = (3, 6, 9)
#: channels of the low-level (stride 4) projection in the decoder (DeepLabV3+)
LOW_LEVEL_FILTERS = 48
#: channels of the decoder feature, the one distillation compares
DECODER_CHANNELS = 256


def adapt_input_kernel(kernel: np.ndarray, channels: int) -> np.ndarray:
    """Maps a pretrained first-conv kernel to ``channels`` input channels.

    Every new input channel gets the sum of the pretrained input-channel filters
    divided by ``channels``: a ``channels``-channel image whose channels are all
    equal to a grey image ``g`` then produces exactly the response of the
    pretrained conv to ``g`` replicated over its input channels (for depth,
    ``channels = 1``, the filter is the sum over RGB).

    Args:
        kernel: ``(kh, kw, in_channels, filters)`` pretrained kernel.
        channels: wanted input channels.

    Returns:
        ``(kh, kw, channels, filters)`` kernel (the input unchanged when the
        channel counts already agree).

    Example:
        >>> adapt_input_kernel(np.ones((7, 7, 3, 64)), 1)[0, 0, 0, 0]
        3.0
    """
    if kernel.shape[2] == channels:
        return kernel
    summed = kernel.sum(axis=2, keepdims=True) / channels  # (kh, kw, 1, filters)
    return np.repeat(summed, channels, axis=2)


def resnet_encoder(channels: int, preset: Optional[str] = None, name: str = "resnet18_encoder"):
    """keras-hub ResNet encoder with ``channels`` inputs, pretrained or random.

    Args:
        channels: input channels (3 for RGB, 1 for depth).
        preset: a *local* keras-hub `ResNetBackbone` preset directory (e.g. a
            saved ``resnet_18_imagenet``) whose weights initialise the encoder;
            its first conv is adapted with `adapt_input_kernel` when the channel
            count differs. None: ResNet-18 with random weights, convolutions
            drawn with the reference code's Kaiming-normal fan-out. Nothing is
            ever downloaded.
        name: name of the returned backbone.

    Returns:
        A `keras_hub.models.ResNetBackbone` for ``(None, None, channels)`` inputs,
        whose ``pyramid_outputs`` are ``P2`` (stride 4) .. ``P5`` (stride 32).

    Raises:
        ValueError: if ``preset`` is not a local directory or does not hold a
            ResNet backbone.
    """
    if preset is None:
        encoder = keras_hub.models.ResNetBackbone(**_RESNET18_ARGS, image_shape=(None, None, channels), name=name)
        initializer = kaiming_fan_out()
        for layer in encoder.layers:
            if isinstance(layer, keras.layers.Conv2D):
                layer.kernel.assign(initializer(layer.kernel.shape, dtype=layer.kernel.dtype))
        return encoder
    if not os.path.isdir(preset):
        raise ValueError(
            f"model preset {preset!r} is not a directory; 'preset' must be a local keras-hub "
            "ResNetBackbone preset directory (nothing is downloaded), or null for random weights"
        )
    try:
        pretrained = keras_hub.models.ResNetBackbone.from_preset(preset)
    except Exception as error:  # noqa: BLE001 - re-raised with the path and a fix
        raise ValueError(
            f"cannot load a keras-hub ResNetBackbone from preset directory {preset!r}: {error}; "
            "save one with ResNetBackbone.save_to_preset(dir)"
        ) from error
    config = pretrained.get_config()
    config.update(image_shape=(None, None, channels), name=name)
    encoder = keras_hub.models.ResNetBackbone.from_config(config)
    for layer, source in zip(encoder.layers, pretrained.layers):  # same construction order
        weights = source.get_weights()
        if layer.name == "conv1_conv":
            weights = [adapt_input_kernel(weights[0], channels), *weights[1:]]
        layer.set_weights(weights)
    return encoder


@keras.saving.register_keras_serializable(package="fdkd_tf")
class DeepLabV3PlusTrunk(keras.Model):
    """DeepLabV3+ from the image to the decoder feature, before its last ReLU.

    A functional model built in ``__init__`` (keras-hub's `Backbone` pattern): a
    keras-hub `DeepLabV3Backbone` over `resnet_encoder`, cut after the decoder's
    last BatchNorm. It saves only its constructor arguments and rebuilds itself on
    load, because keras-hub's ASPP layer cannot be rebuilt from a saved shape on
    its own. ``preset`` only initialises weights and is not saved: a reloaded
    model takes its weights from the ``.keras`` file.

    Args:
        channels: input channels (3 for RGB, 1 for depth).
        preset: local keras-hub ResNet preset directory for the encoder, or None.
        **kwargs: `keras.Model` arguments (``name``, ``trainable``, ``dtype``).

    Returns:
        Called on ``(batch, H, W, channels)``: ``{"features": (batch, H/4, W/4,
        256) pre-ReLU decoder map, "hint": (batch, H/32, W/32, 256) ASPP (encoder)
        output}``.

    Example:
        >>> trunk = DeepLabV3PlusTrunk(1)
        >>> trunk.output["features"].shape
        (None, None, None, 256)
    """

    def __init__(self, channels: int, preset: Optional[str] = None, **kwargs):
        encoder = resnet_encoder(channels, preset)
        backbone = keras_hub.models.DeepLabV3Backbone(
            image_encoder=encoder,
            spatial_pyramid_pooling_key="P5",
            upsampling_size=ENCODER_STRIDE // DEEPLAB_OUTPUT_STRIDE,
            dilation_rates=list(DILATION_RATES),
            low_level_feature_key="P2",
            projection_filters=LOW_LEVEL_FILTERS,
            image_shape=(None, None, channels),
        )
        features = backbone.get_layer("segmentation_head_norm").output  # pre-ReLU
        # The ASPP layer has no fixed name (keras-hub leaves it to Keras' counter).
        (aspp,) = [layer for layer in backbone.layers if type(layer).__name__ == "SpatialPyramidPooling"]
        hint = aspp.output
        super().__init__(inputs=backbone.input, outputs={"features": features, "hint": hint}, **kwargs)
        self.channels = channels

    def get_config(self):
        # Not chained to super(): a functional config cannot rebuild the ASPP.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "channels": self.channels,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.get(config["dtype"])
        return cls(**config)


def deeplabv3plus_features(inputs, spec, name: str = "deeplabv3plus"):
    """Dense pre-ReLU DeepLabV3+ decoder feature of an image batch.

    Args:
        inputs: symbolic ``(batch, H, W, C)`` tensor; H and W (when known) must
            be multiples of 32; C must be known (3 for RGB, 1 for depth).
        spec: the `ModelSpec`; ``spec.preset`` is an optional local keras-hub
            ResNet preset directory (ImageNet initialisation).
        name: the nested trunk model is named ``f"{name}_trunk"``.

    Returns:
        ``{"features": (batch, H/4, W/4, 256), "hint": (batch, H/32, W/32, 256),
        "output_stride": 4}``; ``output_stride`` tells `build_classifier` to
        upsample the logits back to the input size.

    Raises:
        ValueError: for a non-image input, an unknown channel count or a side
            that is not a multiple of 32.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> out = deeplabv3plus_features(keras.Input((64, 96, 1)), ModelSpec("deeplabv3plus"))
        >>> out["features"].shape
        (None, 16, 24, 256)
    """
    input_shape = tuple(inputs.shape[1:])
    if len(input_shape) != 3 or input_shape[-1] is None:
        raise ValueError(
            f"arch 'deeplabv3plus' expects images of shape (height, width, channels) with a "
            f"known channel count, got input_shape {input_shape}"
        )
    for side in input_shape[:2]:
        if side is not None and side % ENCODER_STRIDE:
            raise ValueError(
                f"arch 'deeplabv3plus' needs image sides that are multiples of {ENCODER_STRIDE} "
                f"(its encoder's output stride), got input_shape {input_shape}; crop or resize "
                "the images (data.image_size)"
            )
    trunk = DeepLabV3PlusTrunk(input_shape[-1], spec.preset, name=f"{name}_trunk")
    outputs = trunk(inputs)
    return {"features": outputs["features"], "hint": outputs["hint"], "output_stride": DEEPLAB_OUTPUT_STRIDE}
