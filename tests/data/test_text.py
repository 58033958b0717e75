import numpy as np
import pytest
from crisismmd_fixtures import TEXTS, VOCABULARY, expected_token_ids, make_bert_preset, write_vocabulary

from fdkd_tf.config import ConfigError
from fdkd_tf.data.text import encode_texts, is_uncased, load_tokenizer


@pytest.fixture(scope="module")
def vocabulary_file(tmp_path_factory):
    return write_vocabulary(tmp_path_factory.mktemp("vocab") / "vocab.txt")


def test_vocabulary_file_tokenizer_matches_independent_wordpiece(vocabulary_file):
    tokenizer = load_tokenizer(vocabulary_file)
    encoded = encode_texts(tokenizer, TEXTS, 12)

    assert encoded.dtype == np.int32 and encoded.shape == (len(TEXTS), 12)
    for row, text in zip(encoded, TEXTS):
        assert row.tolist() == expected_token_ids(text, 12)
    # "Flood water in Houston houses!" -> [CLS] flood water in houston houses ! [SEP] [PAD]...
    assert [VOCABULARY[i] for i in encoded[0][:8]] == [
        "[CLS]", "flood", "water", "in", "houston", "houses", "!", "[SEP]",
    ]  # fmt: skip
    # word pieces and unknown words: "storms" -> storm ##s, "Donate now:" has an unknown ':'
    assert "##s" in [VOCABULARY[i] for i in encoded[4]]
    assert VOCABULARY.index("[UNK]") in encoded[3].tolist()


def test_truncation_keeps_cls_and_sep_and_pads_with_zero(vocabulary_file):
    tokenizer = load_tokenizer(vocabulary_file)
    short = encode_texts(tokenizer, [TEXTS[0], ""], 4)

    assert short[0].tolist() == [2, 5, 6, 3]  # [CLS] flood water [SEP]
    assert short[1].tolist() == [2, 3, 0, 0]  # an empty tweet is [CLS] [SEP] + padding
    with pytest.raises(ValueError, match="at least 2"):
        encode_texts(tokenizer, TEXTS, 1)


def test_uncased_vocabulary_lowercases_and_cased_does_not(tmp_path):
    assert is_uncased(VOCABULARY)
    cased = VOCABULARY + ["Houston"]
    assert not is_uncased(cased)
    path = tmp_path / "cased.txt"
    path.write_text("\n".join(cased) + "\n", encoding="utf-8")

    ids = encode_texts(load_tokenizer(str(path)), ["Houston houston"], 5)[0].tolist()

    assert ids == [2, len(cased) - 1, VOCABULARY.index("houston"), 3, 0]


def test_preset_directory_gives_the_same_ids_as_its_vocabulary(vocabulary_file, tmp_path):
    preset = make_bert_preset(tmp_path / "bert_preset")

    from_preset = encode_texts(load_tokenizer(preset), TEXTS, 10)
    from_file = encode_texts(load_tokenizer(vocabulary_file), TEXTS, 10)

    np.testing.assert_array_equal(from_preset, from_file)


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "it is empty"),
        ("[PAD]\n[CLS]\n[SEP]\nflood\n", r"lacks \[UNK\]"),
        ("[UNK]\n[PAD]\n[CLS]\n[SEP]\n[MASK]\nflood\n", "has id 1"),
    ],
)
def test_bad_vocabulary_files_are_refused(tmp_path, content, message):
    path = tmp_path / "vocab.txt"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=message):
        load_tokenizer(str(path))


def test_missing_or_unset_vocabulary_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="data.vocabulary.*not found"):
        load_tokenizer(str(tmp_path / "absent.txt"))
    with pytest.raises(ConfigError, match="data.vocabulary"):
        load_tokenizer(None)
