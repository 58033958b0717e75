import keras
import keras_hub
import numpy as np
import pytest
from crisismmd_fixtures import TEXTS, expected_token_ids, make_bert_preset

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import build_classifier
from fdkd_tf.models.bert import BERT_SIZES, MAX_SEQUENCE_LENGTH, RANDOM_INIT_VOCABULARY_SIZE

# Hugging Face's bert-base-uncased BertModel (embeddings, 12 layers, pooler) has
# 109,482,240 parameters.
BERT_BASE_UNCASED_PARAMETERS = 109_482_240


def bert_parameter_count(num_layers, hidden_dim, num_heads, intermediate_dim, vocabulary, positions, segments=2):
    """Parameters of a BERT encoder with its pooler, counted from Devlin et al.'s architecture."""
    del num_heads  # heads split the hidden size; they add no parameters
    hidden, inner = hidden_dim, intermediate_dim
    embeddings = (vocabulary + positions + segments) * hidden + 2 * hidden  # + LayerNorm
    attention = 4 * (hidden * hidden + hidden) + 2 * hidden  # q, k, v, output + LayerNorm
    feed_forward = hidden * inner + inner + inner * hidden + hidden + 2 * hidden  # + LayerNorm
    pooler = hidden * hidden + hidden
    return embeddings + num_layers * (attention + feed_forward) + pooler


def token_ids(length):
    return np.array([expected_token_ids(text, length) for text in TEXTS], dtype=np.int32)


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(0)
    return build_classifier(ModelSpec(arch="bert", size="tiny"), (16,), 3, "text")


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return make_bert_preset(tmp_path_factory.mktemp("presets") / "bert_tiny")


def test_base_size_is_bert_base():
    count = bert_parameter_count(
        **BERT_SIZES["base"], vocabulary=RANDOM_INIT_VOCABULARY_SIZE, positions=MAX_SEQUENCE_LENGTH
    )
    assert count == BERT_BASE_UNCASED_PARAMETERS


def test_tiny_classifier_counts_and_shapes(tiny_model):
    expected = bert_parameter_count(
        **BERT_SIZES["tiny"], vocabulary=RANDOM_INIT_VOCABULARY_SIZE, positions=MAX_SEQUENCE_LENGTH
    )
    assert tiny_model.count_params() == expected + 128 * 3 + 3  # + the ReLU -> Linear head
    assert tiny_model.input.dtype == "int32"
    outputs = tiny_model(token_ids(16), training=False)
    assert tuple(outputs["features"].shape) == (len(TEXTS), 128)
    assert tuple(outputs["hint"].shape) == (len(TEXTS), 128)
    assert tuple(outputs["logits"].shape) == (len(TEXTS), 3)


def test_feature_is_the_preset_pooler_before_tanh(preset):
    model = build_classifier(ModelSpec(arch="bert", preset=preset), (12,), 3, "text")
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    ids = token_ids(12)

    features = np.asarray(model(ids, training=False)["features"])
    reference = backbone(
        {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": (ids != 0).astype("int32")},
        training=False,
    )["pooled_output"]

    np.testing.assert_allclose(np.tanh(features), np.asarray(reference), atol=1e-5)
    assert features.shape == (len(TEXTS), 32)
    assert np.abs(features).max() > 1.0  # not squashed by a tanh


def test_padding_is_masked(preset):
    short = build_classifier(ModelSpec(arch="bert", preset=preset), (12,), 3, "short")
    long = build_classifier(ModelSpec(arch="bert", preset=preset), (20,), 3, "long")

    np.testing.assert_allclose(
        np.asarray(short(token_ids(12), training=False)["features"]),
        np.asarray(long(token_ids(20), training=False)["features"]),
        atol=1e-5,
    )


def test_reloads_from_keras_file(tiny_model, save_and_reload, same_outputs):
    same_outputs(tiny_model, save_and_reload(tiny_model), token_ids(16))


@pytest.mark.parametrize(
    "spec, shape, message",
    [
        (ModelSpec(arch="bert", preset="/nonexistent/bert"), (8,), "local keras-hub preset directory"),
        (ModelSpec(arch="bert", size="large"), (8,), "size must be one of base, tiny"),
        (ModelSpec(arch="bert", size="tiny"), (600,), "data.max_length 600 exceeds the 512"),
        (ModelSpec(arch="bert", size="tiny"), (4, 4), r"shape \(max_length,\)"),
    ],
)
def test_bad_specs_are_refused(spec, shape, message):
    with pytest.raises(ValueError, match=message):
        build_classifier(spec, shape, 3, "text")
