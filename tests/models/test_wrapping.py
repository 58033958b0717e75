"""wrap_classifier: a user's own Keras classifier in the {"features", "logits"} contract,
sharing the user's weights, trainable by every distiller and saved as the user's model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import fdkd_tf
from fdkd_tf.models import wrap_classifier


def _sequential():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(8, activation="relu", name="hidden"), keras.layers.Dense(3, name="logits")],
        name="user_mlp",
    )


def test_a_sequential_model_exposes_the_named_layer_and_its_logits():
    model = _sequential()
    wrapped = wrap_classifier(model, feature_layer="hidden")
    x = np.random.default_rng(0).normal(size=(5, 12)).astype("float32")
    out = wrapped(x)
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output)(x)
    np.testing.assert_allclose(out["features"], hidden, rtol=0, atol=0)
    np.testing.assert_allclose(out["logits"], model(x), rtol=0, atol=0)
    assert {id(v) for v in wrapped.weights} == {id(v) for v in model.weights}  # no copy


def test_a_functional_feature_map_is_averaged_to_a_vector_or_kept_for_dense_tasks():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((9, 7, 2))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="trunk")(inputs)
    logits = keras.layers.Dense(5)(keras.layers.GlobalMaxPooling2D()(conv))
    model = keras.Model(inputs, logits)
    x = np.random.default_rng(1).normal(size=(3, 9, 7, 2)).astype("float32")
    maps = keras.Model(inputs, conv)(x).numpy()
    pooled = wrap_classifier(model, "trunk")(x)
    np.testing.assert_allclose(pooled["features"], maps.mean(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(pooled["logits"], model(x), atol=0)
    np.testing.assert_allclose(wrap_classifier(model, "trunk", dense=True)(x)["features"], maps, atol=0)


def test_a_keras_hub_backbone_with_a_head():
    keras_hub = pytest.importorskip("keras_hub")
    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64], stackwise_num_blocks=[1],
        stackwise_num_strides=[1], block_type="basic_block", use_pre_activation=False, image_shape=(16, 16, 3),
    )
    inputs = keras.Input((16, 16, 3))
    logits = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    model = keras.Model(inputs, logits)
    x = np.random.default_rng(2).uniform(size=(2, 16, 16, 3)).astype("float32")
    out = wrap_classifier(model, backbone.name)(x)
    np.testing.assert_allclose(out["features"], backbone(x).numpy().mean(axis=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(out["logits"], model(x), atol=1e-6)


def test_an_unknown_layer_names_it_and_lists_the_candidates():
    with pytest.raises(ValueError, match=r"no layer 'hiden' \(feature_layer\); its layers are: hidden, logits"):
        wrap_classifier(_sequential(), "hiden")
    with pytest.raises(ValueError, match=r"no layer 'trunk' \(feature_layer\); its layers are: trunk_conv, head"):
        wrap_classifier(UserNet(), "trunk", input_shape=(10, 2))


class UserNet(keras.Model):
    """A user's subclassed classifier: conv trunk -> max pool -> dense head."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trunk = keras.layers.Conv1D(4, 3, padding="same", activation="relu", name="trunk_conv")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, x, training=None):
        return self.head(keras.ops.max(self.trunk(x), axis=1))


def test_a_subclassed_model_exposes_its_sub_layer_and_trains_in_place():
    keras.utils.set_random_seed(4)
    model = UserNet()
    with pytest.raises(ValueError, match=r"has not been called; pass input_shape="):
        wrap_classifier(model, "trunk_conv")
    wrapped = wrap_classifier(model, "trunk_conv", input_shape=(10, 2))
    x = np.random.default_rng(4).normal(size=(6, 10, 2)).astype("float32")
    out = wrapped(x)
    trunk = model.trunk(x).numpy()
    np.testing.assert_allclose(out["features"], trunk.mean(axis=1), atol=1e-6)  # the (time, channels) map, averaged
    np.testing.assert_allclose(out["logits"], model(x), atol=0)
    np.testing.assert_allclose(wrap_classifier(model, "trunk_conv", dense=True)(x)["features"], trunk, atol=0)  # built: shape read
    assert {id(v) for v in wrapped.weights} == {id(v) for v in model.weights}

    teacher = wrap_classifier(_sequential(), "hidden")
    teacher.trainable = False
    distiller = fdkd_tf.FrequencyDecoupledDistillation(
        [fdkd_tf.Direction("student", "student", wrapped, "teacher", teacher)], num_classes=3
    )
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    rng = np.random.default_rng(5)
    inputs = {"teacher": rng.normal(size=(16, 12)).astype("float32"), "student": rng.normal(size=(16, 10, 2)).astype("float32")}
    before = [w.copy() for w in model.get_weights()]
    distiller.fit(inputs, rng.integers(0, 3, 16).astype("int32"), batch_size=8, epochs=1, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))  # trunk and head trained


def test_replicas_of_a_subclassed_view_catch_their_own_features(mirrored_strategy):
    """Under MirroredStrategy the replicas trace concurrently; each must read its own sub-layer output."""
    import tensorflow as tf

    with mirrored_strategy.scope():
        model = UserNet()
        wrapped = wrap_classifier(model, "trunk_conv", input_shape=(10, 2))
    x = np.random.default_rng(6).normal(size=(8, 10, 2)).astype("float32")
    dataset = mirrored_strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(8))
    features = mirrored_strategy.run(tf.function(lambda batch: wrapped(batch)["features"]), args=(next(iter(dataset)),))
    per_replica = np.concatenate([t.numpy() for t in mirrored_strategy.experimental_local_results(features)])
    np.testing.assert_allclose(per_replica, model.trunk(x).numpy().mean(axis=1), atol=1e-6)


def test_distilling_a_wrapped_student_trains_and_saves_the_users_model(tmp_path):
    teacher_model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="t_hidden"), keras.layers.Dense(3)])
    student_model = _sequential()
    teacher = wrap_classifier(teacher_model, "t_hidden")
    teacher.trainable = False
    student = wrap_classifier(student_model, "hidden")
    distiller = fdkd_tf.FrequencyDecoupledDistillation(
        [fdkd_tf.Direction("student", "student", student, "teacher", teacher)], num_classes=3
    )
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    rng = np.random.default_rng(3)
    x = {"teacher": rng.normal(size=(16, 6)).astype("float32"), "student": rng.normal(size=(16, 12)).astype("float32")}
    y = rng.integers(0, 3, 16).astype("int32")
    before = [w.copy() for w in student_model.get_weights()]
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, student_model.get_weights()))  # the user's model trained
    student_model.save(tmp_path / "student.keras")
    reloaded = keras.saving.load_model(tmp_path / "student.keras")
    np.testing.assert_allclose(reloaded(x["student"]), student_model(x["student"]), atol=0)
    assert tuple(reloaded(x["student"]).shape) == (16, 3)  # saved as the user's model: logits out, not a dict
