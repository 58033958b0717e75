import keras
import numpy as np
import pytest

from fdkd_tf.models import ClassificationHead


def _numpy_head(head, features):
    kernel, bias = (np.asarray(w) for w in (head.dense.kernel, head.dense.bias))
    return np.maximum(features, 0.0) @ kernel + bias


def test_head_is_relu_then_dense_on_pooled_features(rng):
    head = ClassificationHead(7)
    features = rng.standard_normal((5, 12)).astype("float32")  # negatives: ReLU matters
    head.build(features.shape)
    head.dense.bias.assign(rng.standard_normal(7).astype("float32"))

    logits = np.asarray(head(features))

    assert logits.shape == (5, 7)
    np.testing.assert_allclose(logits, _numpy_head(head, features), rtol=1e-5, atol=1e-5)
    # Without the ReLU the answer would differ.
    linear = features @ np.asarray(head.dense.kernel) + np.asarray(head.dense.bias)
    assert not np.allclose(logits, linear, atol=1e-3)


def test_head_acts_on_last_axis_of_feature_maps(rng):
    head = ClassificationHead(3)
    feature_map = rng.standard_normal((2, 4, 5, 6)).astype("float32")  # (batch, H, W, D)

    logits = np.asarray(head(feature_map))

    assert logits.shape == (2, 4, 5, 3)
    assert head.compute_output_shape((2, 4, 5, 6)) == (2, 4, 5, 3)
    np.testing.assert_allclose(logits, _numpy_head(head, feature_map), rtol=1e-5, atol=1e-5)


def test_default_init_is_untruncated_xavier_normal_and_zero_bias():
    fan_in, fan_out = 512, 100
    head = ClassificationHead(fan_out)
    head.build((None, fan_in))
    kernel = np.asarray(head.dense.kernel)
    expected_std = np.sqrt(2.0 / (fan_in + fan_out))

    np.testing.assert_array_equal(np.asarray(head.dense.bias), np.zeros(fan_out))
    assert abs(kernel.mean()) < 0.05 * expected_std
    assert kernel.std() == pytest.approx(expected_std, rel=0.03)
    # A truncated normal (Keras' GlorotNormal) has no values beyond 2 std; N(0, s) has ~4.6%.
    assert np.mean(np.abs(kernel) > 2 * expected_std) > 0.03


def test_get_config_round_trip():
    head = ClassificationHead(4, bias_initializer="ones", name="extra_head")
    config = head.get_config()

    clone = ClassificationHead.from_config(config)

    assert config["num_classes"] == 4
    assert clone.get_config() == config
    clone.build((None, 3))
    np.testing.assert_array_equal(np.asarray(clone.dense.bias), np.ones(4))


def test_custom_initializer_object_round_trips_through_registry():
    head = ClassificationHead(2, kernel_initializer=keras.initializers.Constant(0.5))

    serialized = keras.saving.serialize_keras_object(head)
    clone = keras.saving.deserialize_keras_object(serialized)

    assert serialized["registered_name"] == "fdkd_tf>ClassificationHead"
    assert isinstance(clone, ClassificationHead)
    clone.build((None, 3))
    np.testing.assert_array_equal(np.asarray(clone.dense.kernel), np.full((3, 2), 0.5))


@pytest.mark.parametrize("num_classes", [0, -1, 2.5, True])
def test_rejects_bad_num_classes(num_classes):
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        ClassificationHead(num_classes)
