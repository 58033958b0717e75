import keras
import numpy as np
import pytest

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import RESNET18_FEATURE_DIM, build_classifier, resnet18_trunk
from fdkd_tf.models.resnet import _last_residual_sum

# torchvision.models.resnet18() has 11,689,512 parameters; its fc (512*1000 + 1000)
# has 513,000, so the conv/bn part has 11,176,512.
TORCHVISION_RESNET18_WITHOUT_FC = 11_689_512 - (512 * 1000 + 1000)


def resnet18_conv_bn_parameter_count(channels):
    """Trainable parameters of ResNet-18 without fc, counted layer by layer (He et al., Table 1)."""

    def batch_norm(width):
        return 2 * width  # gamma, beta (moving statistics are not parameters)

    count = 7 * 7 * channels * 64 + batch_norm(64)  # stem
    in_width = 64
    for width, stride in zip([64, 128, 256, 512], [1, 2, 2, 2]):
        for block in range(2):
            count += 3 * 3 * in_width * width + batch_norm(width)
            count += 3 * 3 * width * width + batch_norm(width)
            if block == 0 and (stride != 1 or in_width != width):
                count += in_width * width + batch_norm(width)  # 1x1 projection shortcut
            in_width = width
    return count


@pytest.fixture(scope="module")
def rgb_model():
    return build_classifier(ModelSpec(arch="resnet18"), (64, 64, 3), 5, "frames")


@pytest.fixture(scope="module")
def spectrogram_model():
    return build_classifier(ModelSpec(arch="resnet18", feature_dim=64), (48, 80, 1), 3, "audio")


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_arithmetic_matches_torchvision_count():
    assert resnet18_conv_bn_parameter_count(3) == TORCHVISION_RESNET18_WITHOUT_FC == 11_176_512


def test_trunk_parameter_count_is_resnet18_without_fc(rgb_model):
    trunk = rgb_model.get_layer("resnet18_trunk")

    assert _trainable_count(trunk) == resnet18_conv_bn_parameter_count(3) == 11_176_512
    # BatchNorm moving mean and variance: 2 per BN channel, 4,800 BN channels.
    assert trunk.count_params() - _trainable_count(trunk) == 2 * 4_800
    # The head adds exactly a 512 -> 5 Dense.
    assert _trainable_count(rgb_model) == 11_176_512 + 512 * 5 + 5


def test_one_channel_trunk_differs_only_in_stem(spectrogram_model):
    trunk = spectrogram_model.get_layer("resnet18_trunk")

    assert _trainable_count(trunk) == resnet18_conv_bn_parameter_count(1)
    assert resnet18_conv_bn_parameter_count(1) == 11_176_512 - 7 * 7 * 2 * 64


@pytest.mark.parametrize(
    "model_fixture, input_shape, num_classes",
    [("rgb_model", (64, 64, 3), 5), ("spectrogram_model", (48, 80, 1), 3)],
)
def test_output_dict_shapes(request, model_fixture, input_shape, num_classes, rng):
    model = request.getfixturevalue(model_fixture)
    inputs = rng.standard_normal((2, *input_shape)).astype("float32")

    outputs = model(inputs, training=False)

    assert sorted(outputs) == ["features", "hint", "logits"]
    # The hint is torchvision's layer3: 256 channels at 1/16 of the input size.
    assert tuple(outputs["hint"].shape) == (2, -(-input_shape[0] // 16), -(-input_shape[1] // 16), 256)
    # feature_dim=64 in the spectrogram spec is ignored: ResNet-18 features are 512-d.
    assert tuple(outputs["features"].shape) == (2, RESNET18_FEATURE_DIM) == (2, 512)
    assert tuple(outputs["logits"].shape) == (2, num_classes)
    assert model.input_shape == (None, *input_shape)


def test_feature_is_global_mean_of_last_residual_sum_before_relu(spectrogram_model, rng):
    trunk = spectrogram_model.get_layer("resnet18_trunk")
    layer_names = [layer.name for layer in trunk.layers]
    # The cut is at the last block's Add; its ReLU is not part of the trunk.
    assert layer_names[-1] == "stack3_block1_add"
    assert "stack3_block1_out" not in layer_names
    residual_sum = keras.Model(trunk.input, trunk.get_layer("stack3_block1_add").output)
    inputs = rng.standard_normal((2, 48, 80, 1)).astype("float32")

    feature_map = np.asarray(residual_sum(inputs, training=False))  # (2, 2, 3, 512)
    features = np.asarray(spectrogram_model(inputs, training=False)["features"])

    assert feature_map.shape == (2, 2, 3, 512)
    np.testing.assert_allclose(features, feature_map.mean(axis=(1, 2)), rtol=1e-5, atol=1e-5)
    assert (features < 0).any(), "features are pre-ReLU, so some must be negative"


def test_any_spatial_size_when_input_shape_leaves_it_free(rng):
    model = build_classifier(ModelSpec(arch="resnet18"), (None, None, 2), 4, "free_size")

    for height, width in [(32, 32), (40, 72)]:
        inputs = rng.standard_normal((1, height, width, 2)).astype("float32")
        outputs = model(inputs, training=False)
        assert tuple(outputs["features"].shape) == (1, 512)
        assert tuple(outputs["logits"].shape) == (1, 4)


def test_last_residual_sum_missing_raises():
    inputs = keras.Input((4, 4, 1))
    not_a_resnet = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="stack3_conv")(inputs))

    with pytest.raises(RuntimeError, match="stack3_block<i>_add"):
        _last_residual_sum(not_a_resnet, last_stack=3)


def test_trunk_has_free_spatial_size():
    trunk = resnet18_trunk(channels=1, name="trunk")

    assert trunk.input_shape == (None, None, None, 1)
    assert trunk.output_shape == (None, None, None, 512)


@pytest.mark.parametrize(
    "input_shape, match",
    [
        ((76,), r"arch 'resnet18' expects images.*rank 1.*'mlp' for vector views"),
        ((2, 8, 16, 16, 3), r"arch 'resnet18' expects images.*or clips.*rank 5"),
        ((16, 16, None), r"arch 'resnet18' needs a known channel count"),
        ((None, 16, 16, 3), r"arch 'resnet18' needs a known number of frames"),
    ],
)
def test_wrong_input_shape_raises(input_shape, match):
    with pytest.raises(ValueError, match=match):
        build_classifier(ModelSpec(arch="resnet18"), input_shape, 3, "bad")


def test_serialization_round_trip(spectrogram_model, save_and_reload, same_outputs, rng):
    inputs = rng.standard_normal((2, 48, 80, 1)).astype("float32")

    reloaded = save_and_reload(spectrogram_model)

    assert reloaded.name == "audio"
    same_outputs(spectrogram_model, reloaded, inputs)


def test_conv_kernels_use_kaiming_fan_out():
    """Every conv kernel is drawn with std sqrt(2 / (kh * kw * out)), as torchvision."""
    from fdkd_tf.models.resnet import resnet18_trunk

    trunk = resnet18_trunk(channels=3)
    convs = [layer for layer in trunk.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 20  # stem + 16 block convs + 3 downsampling shortcuts
    for layer in convs:
        kernel = np.asarray(layer.kernel)
        kh, kw, _, out = kernel.shape
        expected = np.sqrt(2.0 / (kh * kw * out))
        assert np.std(kernel) == pytest.approx(expected, rel=0.1), layer.name
        assert abs(np.mean(kernel)) < 0.1 * expected


@pytest.fixture(scope="module")
def clip_model():
    return build_classifier(ModelSpec(arch="resnet18"), (3, 32, 48, 3), 4, "clips")


def test_clip_feature_is_mean_over_frames_height_and_width(clip_model, rng):
    """(T, H, W, C) clips: the T frames go through the 2-D trunk, pooled over T, H, W."""
    trunk = clip_model.get_layer("resnet18_trunk")
    clips = rng.standard_normal((2, 3, 32, 48, 3)).astype("float32")

    hint_maps, feature_maps = (np.asarray(t) for t in trunk(clips.reshape(6, 32, 48, 3), training=False))
    outputs = clip_model(clips, training=False)

    assert tuple(outputs["features"].shape) == (2, 512) and tuple(outputs["logits"].shape) == (2, 4)
    expected = feature_maps.reshape(2, 3, 1, 2, 512).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(outputs["features"]), expected, rtol=1e-5, atol=1e-5)
    # The hint is layer3 averaged over the frames: (batch, H/16, W/16, 256).
    np.testing.assert_allclose(np.asarray(outputs["hint"]), hint_maps.reshape(2, 3, 2, 3, 256).mean(axis=1), rtol=1e-5, atol=1e-5)
    # Frames are not mixed across clips: changing clip 1 leaves clip 0's feature as it was.
    changed = clips.copy()
    changed[1] = rng.standard_normal((3, 32, 48, 3))
    np.testing.assert_allclose(np.asarray(clip_model(changed, training=False)["features"])[0], expected[0], rtol=1e-5, atol=1e-5)


def test_clip_model_round_trip(clip_model, save_and_reload, same_outputs, rng):
    same_outputs(clip_model, save_and_reload(clip_model), rng.standard_normal((1, 3, 32, 48, 3)).astype("float32"))


def test_one_frame_clip_equals_the_image_model(rng):
    import keras

    keras.utils.set_random_seed(1)
    image_model = build_classifier(ModelSpec(arch="resnet18"), (32, 32, 3), 2, "image")
    keras.utils.set_random_seed(1)
    clip_model = build_classifier(ModelSpec(arch="resnet18"), (1, 32, 32, 3), 2, "clip")
    images = rng.standard_normal((2, 32, 32, 3)).astype("float32")

    np.testing.assert_allclose(
        np.asarray(clip_model(images[:, None], training=False)["features"]),
        np.asarray(image_model(images, training=False)["features"]),
        rtol=1e-5,
        atol=1e-5,
    )
