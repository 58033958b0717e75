"""DeepLabV3+ (keras-hub) with a ResNet-18 encoder: shapes, head semantics, presets, saving."""

from __future__ import annotations

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import build_classifier
from fdkd_tf.models.deeplab import DILATION_RATES, adapt_input_kernel, deeplabv3plus_features, resnet_encoder
from fdkd_tf.models.resnet import _RESNET18_ARGS

CLASSES = 40


@pytest.fixture(scope="module")
def depth_model():
    keras.utils.set_random_seed(0)
    return build_classifier(ModelSpec(arch="deeplabv3plus"), (None, None, 1), CLASSES, "student_depth")


def test_outputs_decoder_map_full_size_logits_and_encoder_hint(depth_model):
    images = np.random.default_rng(0).normal(size=(2, 64, 96, 1)).astype("float32")

    out = depth_model(images, training=False)

    assert tuple(out["features"].shape) == (2, 16, 24, 256)  # stride 4, 256 decoder channels
    assert tuple(out["logits"].shape) == (2, 64, 96, CLASSES)  # the input size
    assert tuple(out["hint"].shape) == (2, 2, 3, 256)  # ASPP output, stride 32
    assert float(tf.reduce_min(out["features"])) < 0.0  # taken before the ReLU


def test_logits_are_the_head_on_every_pixel_upsampled_bilinearly(depth_model):
    images = np.random.default_rng(1).normal(size=(1, 32, 64, 1)).astype("float32")
    out = depth_model(images, training=False)
    dense = depth_model.get_layer("logits").dense
    kernel, bias = (np.asarray(w) for w in dense.get_weights())
    per_pixel = np.maximum(out["features"].numpy(), 0.0) @ kernel + bias  # ReLU -> 1x1 linear, (1, 8, 16, C)

    expected = tf.image.resize(per_pixel, (32, 64), method="bilinear").numpy()

    np.testing.assert_allclose(out["logits"].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_encoder_is_resnet18_and_aspp_uses_halved_rates(depth_model):
    trunk = depth_model.get_layer("deeplabv3plus_trunk")
    aspp = [layer for layer in trunk.layers if type(layer).__name__ == "SpatialPyramidPooling"]

    assert len(aspp) == 1 and tuple(aspp[0].dilation_rates) == DILATION_RATES == (3, 6, 9)
    assert depth_model.get_layer("deeplabv3plus_trunk").input.shape[-1] == 1


def test_rejects_sides_that_are_not_multiples_of_32():
    with pytest.raises(ValueError, match="multiples of 32"):
        deeplabv3plus_features(keras.Input((48, 64, 3)), ModelSpec(arch="deeplabv3plus"))


def test_reloads_from_keras_file_without_custom_objects(depth_model, save_and_reload, same_outputs):
    images = np.random.default_rng(2).normal(size=(1, 32, 32, 1)).astype("float32")

    same_outputs(depth_model, save_and_reload(depth_model), images)


def test_adapt_input_kernel_sums_rgb_filters_for_one_channel():
    kernel = np.random.default_rng(3).normal(size=(7, 7, 3, 4))
    grey = np.random.default_rng(4).normal(size=(7, 7))

    one = adapt_input_kernel(kernel, 1)

    # A grey image replicated over RGB gives the response of the 1-channel filter.
    np.testing.assert_allclose(np.einsum("hw,hwo->o", grey, one[:, :, 0]), np.einsum("hwc,hwco->o", np.repeat(grey[..., None], 3, -1), kernel))
    assert adapt_input_kernel(kernel, 3) is kernel


@pytest.fixture(scope="module")
def local_preset(tmp_path_factory):
    """A keras-hub ResNet-18 preset directory saved locally (stands for resnet_18_imagenet)."""
    keras.utils.set_random_seed(7)
    backbone = keras_hub.models.ResNetBackbone(**_RESNET18_ARGS, image_shape=(None, None, 3))
    directory = str(tmp_path_factory.mktemp("resnet18_preset"))
    backbone.save_to_preset(directory)
    return directory, backbone


def test_preset_initialises_rgb_and_depth_encoders(local_preset):
    directory, pretrained = local_preset

    rgb = resnet_encoder(3, directory)
    depth = resnet_encoder(1, directory)

    reference = {layer.name: layer.get_weights() for layer in pretrained.layers if layer.get_weights()}
    for encoder, channels in ((rgb, 3), (depth, 1)):
        compared = [layer for layer in encoder.layers if layer.get_weights()]
        assert {layer.name for layer in compared} == set(reference)
        for layer in compared:
            for got, want in zip(layer.get_weights(), reference[layer.name]):
                if layer.name == "conv1_conv" and channels == 1:
                    want = want.sum(axis=2, keepdims=True)
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert depth.get_layer("conv1_conv").kernel.shape == (7, 7, 1, 64)


def test_preset_must_be_a_local_directory(tmp_path):
    with pytest.raises(ValueError, match="local keras-hub"):
        resnet_encoder(3, str(tmp_path / "resnet_18_imagenet"))
