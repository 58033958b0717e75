"""Tweet text -> BERT token ids: keras-hub's BertTokenizer from local files only.

The tokenizer comes from a WordPiece vocabulary file (one token per line, the
``vocab.txt`` of every BERT release) or from a local keras-hub preset directory
(``save_to_preset`` output, the one ``model.<side>.preset`` names); nothing is
ever downloaded. Each text becomes ``[CLS] word pieces [SEP]``, cut to
``max_length`` (the pieces are truncated, ``[SEP]`` is kept) and padded with
``[PAD]``. The BERT models (`fdkd_tf.models.bert`) take the padding mask to be
``token_ids != 0``, so ``[PAD]`` must have id 0, as it does in BERT vocabularies.
"""

from __future__ import annotations

import os

import keras_hub
import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError

PAD_TOKEN = "[PAD]"
REQUIRED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
ENCODE_CHUNK = 4096  # texts tokenized per call


def read_vocabulary(path: str) -> list[str]:
    """Reads a WordPiece vocabulary: one token per line, the line number is the id.

    Args:
        path: the vocabulary file.

    Returns:
        The tokens, in id order.

    Raises:
        ConfigError: if the file is missing, empty, or lacks a BERT special token.
    """
    if not os.path.isfile(path):
        raise ConfigError(
            f"config key 'data.vocabulary': vocabulary file not found: {path}; give a BERT "
            "vocab.txt (one token per line) or a local keras-hub preset directory"
        )
    with open(path, encoding="utf-8") as handle:
        tokens = [line.rstrip("\n").rstrip("\r") for line in handle]
    while tokens and not tokens[-1]:
        tokens.pop()
    missing = [token for token in REQUIRED_TOKENS if token not in tokens]
    if not tokens or missing:
        raise ConfigError(
            f"config key 'data.vocabulary': {path} is not a BERT vocabulary: "
            f"{'it is empty' if not tokens else 'it lacks ' + ', '.join(missing)}"
        )
    return tokens


def is_uncased(tokens: list[str]) -> bool:
    """True when no word piece has an upper-case letter (an uncased vocabulary).

    Special tokens such as ``[CLS]`` are ignored. An uncased vocabulary needs
    lower-cased input; a cased one must see the text as written.
    """
    return not any(
        token != token.lower() for token in tokens if not (token.startswith("[") and token.endswith("]"))
    )


def load_tokenizer(source: str) -> keras_hub.tokenizers.BertTokenizer:
    """A `BertTokenizer` from a vocabulary file or a local keras-hub preset directory.

    For a vocabulary file, lower-casing is switched on when the vocabulary is
    uncased (`is_uncased`); a preset carries its own setting.

    Args:
        source: path of a ``vocab.txt`` or of a preset directory.

    Returns:
        The tokenizer.

    Raises:
        ConfigError: for a missing path, a file that is not a BERT vocabulary,
            or a vocabulary whose ``[PAD]`` id is not 0.

    Example:
        >>> tokenizer = load_tokenizer("vocab.txt")
        >>> encode_texts(tokenizer, ["Flood in Houston"], 8).shape
        (1, 8)
    """
    if source is None:
        raise ConfigError(
            "config key 'data.vocabulary' must name the BERT vocabulary: a vocab.txt file or "
            "the local keras-hub preset directory given as model.<text side>.preset"
        )
    source = os.fspath(source)
    if os.path.isdir(source):
        try:
            tokenizer = keras_hub.tokenizers.BertTokenizer.from_preset(source)
        except Exception as error:  # noqa: BLE001 - re-raised with the key that caused it
            raise ConfigError(
                f"config key 'data.vocabulary': cannot load a BertTokenizer from the preset "
                f"directory {source}: {error}"
            ) from error
    else:
        tokens = read_vocabulary(source)
        tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=tokens, lowercase=is_uncased(tokens))
    if tokenizer.pad_token_id != 0:
        raise ConfigError(
            f"config key 'data.vocabulary': {PAD_TOKEN} has id {tokenizer.pad_token_id} in {source}; "
            "the BERT models take id 0 as padding, so use a vocabulary with [PAD] first"
        )
    return tokenizer


def encode_texts(tokenizer, texts, max_length: int) -> np.ndarray:
    """Texts -> ``[CLS] pieces [SEP] [PAD]...`` token ids of fixed length.

    Args:
        tokenizer: a `BertTokenizer` (`load_tokenizer`).
        texts: sequence of strings.
        max_length: tokens per text, including ``[CLS]`` and ``[SEP]``; at least 2.

    Returns:
        int32 ``(len(texts), max_length)``.

    Raises:
        ValueError: if ``max_length`` is below 2.
    """
    if max_length < 2:
        raise ValueError(f"data.max_length must be at least 2 ([CLS] and [SEP]), got {max_length}")
    texts = list(texts)
    encoded = np.full((len(texts), max_length), tokenizer.pad_token_id, dtype=np.int32)
    for start in range(0, len(texts), ENCODE_CHUNK):
        chunk = texts[start : start + ENCODE_CHUNK]
        pieces = tokenizer(tf.constant(chunk, dtype=tf.string))  # (n, None) ragged, or lists in eager
        if hasattr(pieces, "to_list"):
            pieces = pieces.to_list()
        for row, ids in enumerate(pieces):
            ids = [tokenizer.cls_token_id, *ids[: max_length - 2], tokenizer.sep_token_id]
            encoded[start + row, : len(ids)] = ids
    return encoded
