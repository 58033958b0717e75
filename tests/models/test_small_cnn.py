import keras
import numpy as np
import pytest

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import build_classifier

DIGIT_SHAPE = (16, 15, 1)  # the embedded mfeat 'pix' view


def _layers_of_type(model, layer_type):
    return [layer for layer in model.layers if isinstance(layer, layer_type)]


def test_output_dict_shapes_and_blocks_follow_spec(rng):
    spec = ModelSpec(arch="small_cnn", feature_dim=24, filters=[8, 16, 4])
    model = build_classifier(spec, DIGIT_SHAPE, 10, "pix")
    inputs = rng.standard_normal((3, *DIGIT_SHAPE)).astype("float32")

    outputs = model(inputs, training=False)

    assert tuple(outputs["features"].shape) == (3, 24)
    assert tuple(outputs["logits"].shape) == (3, 10)
    assert [layer.filters for layer in _layers_of_type(model, keras.layers.Conv2D)] == [8, 16, 4]
    assert len(_layers_of_type(model, keras.layers.BatchNormalization)) == 3
    assert len(_layers_of_type(model, keras.layers.MaxPooling2D)) == 3
    assert not _layers_of_type(model, keras.layers.Dropout)


def test_feature_is_linear_projection_of_pooled_maps_without_relu(rng):
    spec = ModelSpec(arch="small_cnn", feature_dim=16, filters=[8])
    model = build_classifier(spec, DIGIT_SHAPE, 4, "pix")
    pooled = keras.Model(model.input, model.get_layer("small_cnn_pool").output)
    projection = model.get_layer("features")
    inputs = rng.standard_normal((4, *DIGIT_SHAPE)).astype("float32")

    pooled_maps = np.asarray(pooled(inputs, training=False))  # (4, 8)
    features = np.asarray(model(inputs, training=False)["features"])

    kernel, bias = np.asarray(projection.kernel), np.asarray(projection.bias)
    np.testing.assert_allclose(features, pooled_maps @ kernel + bias, rtol=1e-5, atol=1e-5)
    assert (features < 0).any(), "features are pre-ReLU, so some must be negative"


def test_dropout_before_projection_only_in_training(rng):
    spec = ModelSpec(arch="small_cnn", feature_dim=16, filters=[8], dropout=0.5)
    model = build_classifier(spec, DIGIT_SHAPE, 4, "pix")
    inputs = rng.standard_normal((4, *DIGIT_SHAPE)).astype("float32")

    (dropout,) = _layers_of_type(model, keras.layers.Dropout)
    assert dropout.rate == 0.5
    assert model.get_layer("features").input is dropout.output
    first = np.asarray(model(inputs, training=False)["features"])
    second = np.asarray(model(inputs, training=False)["features"])
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(np.asarray(model(inputs, training=True)["features"]), first)


def test_tiny_spatial_size_pools_with_same_padding(rng):
    model = build_classifier(ModelSpec(arch="small_cnn", filters=[4, 4, 4]), (1, 1, 2), 3, "tiny")

    outputs = model(rng.standard_normal((2, 1, 1, 2)).astype("float32"), training=False)

    assert tuple(outputs["logits"].shape) == (2, 3)


@pytest.mark.parametrize("input_shape, rank", [((76,), 1), ((4, 16, 15, 1), 4)])
def test_wrong_rank_raises_with_fix(input_shape, rank):
    with pytest.raises(
        ValueError, match=rf"arch 'small_cnn' expects images.*rank {rank}.*'mlp' for vector views"
    ):
        build_classifier(ModelSpec(arch="small_cnn"), input_shape, 10, "bad")


def test_serialization_round_trip(save_and_reload, same_outputs, rng):
    spec = ModelSpec(arch="small_cnn", feature_dim=8, filters=[4, 8], dropout=0.25)
    model = build_classifier(spec, DIGIT_SHAPE, 10, "pix")
    inputs = rng.standard_normal((2, *DIGIT_SHAPE)).astype("float32")
    # Non-default BatchNorm statistics must survive the round trip too.
    model(inputs, training=True)
    bn = _layers_of_type(model, keras.layers.BatchNormalization)[0]
    bn.moving_mean.assign(rng.standard_normal(4).astype("float32"))

    same_outputs(model, save_and_reload(model), inputs)
