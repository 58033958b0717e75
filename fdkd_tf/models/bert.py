"""BERT pooled features: keras-hub's BertBackbone, fed token ids, cut before the pooler's tanh.

The paper uses BERT-base for the CrisisMMD tweets. A text model takes one input,
the ``(batch, max_length)`` int32 token ids that `fdkd_tf.data.text` produces
(``[CLS] tokens [SEP]`` padded with ``[PAD]``, whose id is 0 in every BERT
vocabulary); the padding mask is ``token_ids != 0`` and the segment ids are 0.
One plain tensor keeps `build_classifier`'s single-input contract, so the
distillers, the training loop, ``student.keras`` and the exporters treat a text
model like any other.
"""

from __future__ import annotations

import os

import keras
import keras_hub

from fdkd_tf.models.mobilenet import _check_local_preset

PAD_TOKEN_ID = 0  # [PAD] is id 0 in BERT vocabularies; fdkd_tf.data.text checks it

#: ``spec.size`` -> BertBackbone architecture (without the vocabulary size).
BERT_SIZES = {
    # BERT-base (Devlin et al., 2019): 12 layers, 768 hidden, 12 heads, 3072 FFN.
    "base": dict(num_layers=12, hidden_dim=768, num_heads=12, intermediate_dim=3072),
    # BERT-tiny (Turc et al., 2019): 2 layers, 128 hidden, 2 heads, 512 FFN; for tests.
    "tiny": dict(num_layers=2, hidden_dim=128, num_heads=2, intermediate_dim=512),
}
#: Token embeddings of a randomly initialised BERT: the BERT-base uncased WordPiece
#: vocabulary size, so any vocabulary of at most this many tokens fits.
RANDOM_INIT_VOCABULARY_SIZE = 30522
MAX_SEQUENCE_LENGTH = 512


def bert_backbone(spec) -> keras_hub.models.BertBackbone:
    """The `BertBackbone` a `ModelSpec` describes: a local preset or a random init.

    Args:
        spec: the `ModelSpec`; ``spec.preset`` (a local keras-hub preset
            directory, e.g. ``bert_base_en_uncased`` saved with
            ``save_to_preset``) loads architecture and weights from disk, as
            ``BertBackbone.from_preset(local_path)``; otherwise ``spec.size``
            (``base`` or ``tiny``) picks the architecture, randomly initialised
            with `RANDOM_INIT_VOCABULARY_SIZE` token embeddings.

    Returns:
        The backbone (nothing is downloaded).

    Raises:
        ValueError: for an unknown size or a preset that is not a local directory.
    """
    if spec.preset is not None:
        _check_local_preset(spec.preset, "bert")
        return keras_hub.models.BertBackbone.from_preset(os.fspath(spec.preset))
    if spec.size not in BERT_SIZES:
        raise ValueError(
            f"arch 'bert' size must be one of {', '.join(BERT_SIZES)}, got size {spec.size!r}"
        )
    return keras_hub.models.BertBackbone(
        vocabulary_size=RANDOM_INIT_VOCABULARY_SIZE,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        dropout=0.1,
        **BERT_SIZES[spec.size],
    )


def bert_features(inputs, spec, name: str = "bert"):
    """Pooled ``[CLS]`` feature of a token-id batch, before the pooler's tanh.

    BERT's classification feature is its pooler, ``tanh(W h_[CLS] + b)``. In
    keeping with the other backbones, whose feature is taken before the final
    activation (the reference code compares pre-ReLU ResNet features), we return
    ``W h_[CLS] + b``: the pooler's dense layer, with the weights of the preset,
    without its tanh. The classification head then applies ReLU -> Linear, as
    for every architecture. The unused tanh pooler is left out of the graph, so
    no weight goes without a gradient.

    Args:
        inputs: symbolic ``(batch, max_length)`` int32 token ids (``keras.Input``).
        spec: the `ModelSpec`; ``preset`` or ``size``, see `bert_backbone`.
        name: prefix of the nested encoder model's name.

    Returns:
        ``{"features": (batch, hidden) pre-tanh pooled [CLS], "hint": (batch,
        hidden) [CLS] state of the middle transformer layer}``; hidden is 768 for
        ``base`` and 128 for ``tiny``.

    Raises:
        ValueError: for inputs that are not a ``(batch, length)`` sequence, or a
            length beyond the backbone's position embeddings.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> tokens = keras.Input((32,), dtype="int32")
        >>> out = bert_features(tokens, ModelSpec("bert", size="tiny"))
        >>> out["features"].shape
        (None, 128)
    """
    input_shape = tuple(inputs.shape[1:])
    if len(input_shape) != 1:
        raise ValueError(
            f"arch 'bert' expects token ids of shape (max_length,), got input_shape {input_shape}"
        )
    backbone = bert_backbone(spec)
    length = input_shape[0]
    if length is not None and length > backbone.max_sequence_length:
        raise ValueError(
            f"data.max_length {length} exceeds the {backbone.max_sequence_length} positions "
            f"of the BERT backbone; set data.max_length <= {backbone.max_sequence_length}"
        )
    middle = backbone.transformer_layers[(backbone.num_layers - 1) // 2]
    encoder = keras.Model(
        backbone.input,
        [middle.output, backbone.output["sequence_output"]],
        name=f"{name}_encoder",
    )
    token_ids = keras.ops.cast(inputs, "int32")
    padding_mask = keras.ops.cast(keras.ops.not_equal(token_ids, PAD_TOKEN_ID), "int32")
    segment_ids = keras.ops.zeros_like(token_ids)
    middle_states, sequence = encoder(
        {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    )  # (batch, length, hidden) each
    pooler = keras.layers.Dense(backbone.hidden_dim, name="pooler")  # linear: no tanh
    pooler.build((None, backbone.hidden_dim))
    pooler.set_weights(backbone.pooled_dense.get_weights())
    features = pooler(sequence[:, 0, :])  # (batch, hidden)
    hint = middle_states[:, 0, :]  # (batch, hidden)
    return {"features": features, "hint": hint}
