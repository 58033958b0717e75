import keras
import keras_hub
import numpy as np
import pytest

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import MOBILENET_V2_FEATURE_DIM, build_classifier
from fdkd_tf.models.mobilenet import mobilenet_v2_backbone_args

# keras.applications.MobileNetV2(alpha=1.0, include_top=False): an independent
# implementation of Sandler et al. (2018), 2,257,984 weights of which 2,223,872
# are trainable (the rest are BatchNorm moving statistics).
REFERENCE_TOTAL, REFERENCE_TRAINABLE = 2_257_984, 2_223_872


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_classifier(ModelSpec(arch="mobilenet_v2"), (64, 64, 3), 4, "image")


def test_reference_counts_are_keras_applications_mobilenet_v2():
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(64, 64, 3))
    assert (reference.count_params(), _trainable_count(reference)) == (REFERENCE_TOTAL, REFERENCE_TRAINABLE)


def test_trunk_is_mobilenet_v2_without_classifier(model):
    trunk = model.get_layer("mobilenet_v2_trunk")

    assert trunk.count_params() == REFERENCE_TOTAL
    assert _trainable_count(trunk) == REFERENCE_TRAINABLE
    assert model.count_params() == REFERENCE_TOTAL + MOBILENET_V2_FEATURE_DIM * 4 + 4


def test_v2_table_2_arguments():
    args = mobilenet_v2_backbone_args()

    assert args["stackwise_num_filters"] == [[24] * 2, [32] * 3, [64] * 4, [96] * 3, [160] * 3, [320]]
    assert [s[0] for s in args["stackwise_num_strides"]] == [2, 2, 2, 1, 2, 1]
    # expansion t = 6 of each block's input width
    assert args["stackwise_expansion"][0] == [6 * 16, 6 * 24]
    assert args["stackwise_expansion"][-1] == [6 * 160]
    assert {a for stage in args["stackwise_activation"] for a in stage} == {"relu6"}


def test_feature_is_pooled_before_the_last_activation(model):
    images = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    # Training mode: BatchNorm uses the batch statistics, so the untrained network's
    # activations keep unit scale (its fresh moving statistics would shrink them).
    outputs = model(images, training=True)
    trunk = model.get_layer("mobilenet_v2_trunk")
    last_conv, last_bn = trunk.get_layer("block_7_0_conv"), trunk.get_layer("block_7_0_bn")
    last_stage = keras.Model(trunk.input, trunk.get_layer("block_6_0").output)(images, training=True)  # (2, 2, 2, 320)

    expected = np.asarray(last_bn(last_conv(last_stage), training=True)).mean(axis=(1, 2))

    np.testing.assert_allclose(np.asarray(outputs["features"]), expected, rtol=1e-4, atol=1e-5)
    assert outputs["features"].shape == (2, MOBILENET_V2_FEATURE_DIM)
    assert outputs["hint"].shape == (2, 4, 4, 96)  # the 96-wide stage at 1/16 resolution
    assert np.asarray(outputs["features"]).min() < -0.375  # below hard-swish's and ReLU6's range


def test_preset_weights_are_loaded(tmp_path):
    keras.utils.set_random_seed(1)
    backbone = keras_hub.models.MobileNetBackbone(**mobilenet_v2_backbone_args(), image_shape=(None, None, 3))
    backbone.save_to_preset(str(tmp_path / "mobilenet_v2"))

    loaded = build_classifier(ModelSpec(arch="mobilenet_v2", preset=str(tmp_path / "mobilenet_v2")), (32, 32, 3), 2, "image")

    saved_kernel = np.asarray(backbone.get_layer("input_conv").kernel)
    loaded_kernel = np.asarray(loaded.get_layer("mobilenet_v2_trunk").get_layer("input_conv").kernel)
    np.testing.assert_array_equal(loaded_kernel, saved_kernel)


@pytest.mark.parametrize(
    "spec, shape, message",
    [
        (ModelSpec(arch="mobilenet_v2"), (32, 32, 1), r"RGB images of shape \(height, width, 3\)"),
        (ModelSpec(arch="mobilenet_v2", size="tiny"), (32, 32, 3), "one size, 'base'"),
        (ModelSpec(arch="mobilenet_v2", preset="/nonexistent/mnv2"), (32, 32, 3), "local keras-hub preset"),
    ],
)
def test_bad_specs_are_refused(spec, shape, message):
    with pytest.raises(ValueError, match=message):
        build_classifier(spec, shape, 2, "image")


def test_random_convs_use_kaiming_fan_out(model):
    trunk = model.get_layer("mobilenet_v2_trunk")
    nested = {layer.name: layer for layer in trunk._flatten_layers(include_self=False) if isinstance(layer, keras.layers.Conv2D)}

    # the 960 -> 320 projection inside the last inverted residual block: std sqrt(2 / 320),
    # twice Keras' Glorot default sqrt(2 / (960 + 320))
    projection = np.asarray(nested["block_6_0_conv3"].kernel)
    assert projection.shape == (1, 1, 960, 320)
    np.testing.assert_allclose(projection.std(), np.sqrt(2 / 320), rtol=0.02)
    np.testing.assert_allclose(np.asarray(trunk.get_layer("block_7_0_conv").kernel).std(), np.sqrt(2 / 1280), rtol=0.02)
