import keras
import numpy as np
import pytest

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import build_classifier

FOURIER_SHAPE = (76,)  # the embedded mfeat 'fou' view


def _dense_weights(model, name):
    layer = model.get_layer(name)
    return np.asarray(layer.kernel), np.asarray(layer.bias)


def test_features_match_numpy_forward_pass(rng):
    spec = ModelSpec(arch="mlp", feature_dim=6, hidden_units=[12, 9])
    model = build_classifier(spec, FOURIER_SHAPE, 10, "fou")
    inputs = rng.standard_normal((5, 76)).astype("float32")

    outputs = model(inputs, training=False)

    hidden = inputs
    for name in ("mlp_dense0", "mlp_dense1"):
        kernel, bias = _dense_weights(model, name)
        hidden = np.maximum(hidden @ kernel + bias, 0.0)
    kernel, bias = _dense_weights(model, "features")
    expected_features = hidden @ kernel + bias  # no activation on the feature
    np.testing.assert_allclose(outputs["features"], expected_features, rtol=1e-5, atol=1e-5)
    assert tuple(outputs["logits"].shape) == (5, 10)
    assert (np.asarray(outputs["features"]) < 0).any()


def test_no_hidden_layers_is_a_single_linear_map(rng):
    spec = ModelSpec(arch="mlp", feature_dim=3, hidden_units=[])
    model = build_classifier(spec, (4,), 2, "linear")
    inputs = rng.standard_normal((2, 4)).astype("float32")

    kernel, bias = _dense_weights(model, "features")
    np.testing.assert_allclose(
        model(inputs)["features"], inputs @ kernel + bias, rtol=1e-5, atol=1e-5
    )


def test_has_no_batch_norm_and_dropout_follows_each_hidden_relu():
    spec = ModelSpec(arch="mlp", hidden_units=[8, 8, 8], dropout=0.3)
    model = build_classifier(spec, FOURIER_SHAPE, 10, "fou")

    layer_types = [type(layer).__name__ for layer in model.layers]

    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert layer_types == ["InputLayer"] + ["Dense", "ReLU", "Dropout"] * 3 + [
        "Dense",
        "ClassificationHead",
    ]
    assert {layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)} == {
        0.3
    }


@pytest.mark.parametrize("input_shape, rank", [((16, 15, 1), 3), ((16, 15), 2)])
def test_wrong_rank_raises_with_fix(input_shape, rank):
    with pytest.raises(
        ValueError, match=rf"arch 'mlp' expects vectors.*rank {rank}.*'small_cnn' or 'resnet18'"
    ):
        build_classifier(ModelSpec(arch="mlp"), input_shape, 10, "bad")


def test_unknown_vector_size_raises():
    with pytest.raises(ValueError, match="arch 'mlp' needs a known vector size"):
        build_classifier(ModelSpec(arch="mlp"), (None,), 10, "bad")


def test_serialization_round_trip(save_and_reload, same_outputs, rng):
    model = build_classifier(ModelSpec(arch="mlp", hidden_units=[16], dropout=0.1), (7,), 3, "vec")
    inputs = rng.standard_normal((4, 7)).astype("float32")

    same_outputs(model, save_and_reload(model), inputs)
