"""A tiny CrisisMMD v2.0 release in the official layout, and a tiny BERT vocabulary.

    <root>/CrisisMMD_v2.0/annotations/<event>_final_data.tsv
    <root>/CrisisMMD_v2.0/data_image/<event>/<date>/<tweet_id>_0.jpg
    <root>/crisismmd_datasplit_all/task_<task>_text_img_<split>.tsv

Every split lists the same kind of rows as the official files (nine tab-separated
columns under a header). Image 0 of each event is a PNG saved under a ``.jpg``
name (as some release images are), to exercise re-encoding.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from fdkd_tf.data.crisismmd import OFFICIAL_COLUMNS, TASK_CLASSES, official_split_filename

# [PAD] first (id 0), as in BERT vocabularies; all pieces lower-case (uncased).
VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "flood", "water", "houses", "damage", "rescue", "help", "people", "fire", "storm",
    "the", "in", "is", "a", "of", "road", "##s", "##ed", "houston", "hurricane", "harvey",
    "wildfire", "california", "volunteers", "donate", "now", "news", ".", "!", "#", "@",
]  # fmt: skip
TEXTS = [
    "Flood water in Houston houses!",
    "Hurricane Harvey damage of the road",
    "Volunteers rescue people now #harvey",
    "Donate now: help the people of California",
    "Wildfire news storms",
    "The fire is in a road",
]
EVENTS = [("hurricane_harvey", "27_8_2017"), ("california_wildfires", "10_10_2017")]
ANNOTATION_COLUMNS = (
    "tweet_id", "image_id", "text_info", "text_info_conf", "image_info", "image_info_conf",
    "text_human", "text_human_conf", "image_human", "image_human_conf", "image_damage",
    "image_damage_conf", "tweet_text", "image_url", "image_path",
)  # fmt: skip
SPLIT_SIZES = {"train": 8, "dev": 4, "test": 4}
IMAGE_SHAPES = [(32, 32), (24, 40), (40, 28)]  # (height, width), cycled


def write_vocabulary(path) -> str:
    """Writes `VOCABULARY`, one token per line; returns the path."""
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(VOCABULARY) + "\n")
    return path


def fixture_image(index: int) -> np.ndarray:
    """A deterministic ``(h, w, 3)`` uint8 image (smooth gradients, JPEG-friendly)."""
    height, width = IMAGE_SHAPES[index % len(IMAGE_SHAPES)]
    rows = np.linspace(0, 1, height)[:, None]
    cols = np.linspace(0, 1, width)[None, :]
    phase = index * 0.7
    channels = [
        128 + 100 * np.sin(3 * rows + 2 * cols + phase),
        128 + 100 * np.cos(2 * rows - 3 * cols + phase),
        np.full((height, width), 40 + 20 * (index % 8)),
    ]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def make_release(root, split_sizes: dict = SPLIT_SIZES) -> dict:
    """Writes the fixture release under ``root``.

    Args:
        root: directory to fill (``--src`` of the preparation).
        split_sizes: pairs per official split (train/dev/test), the same for both tasks.

    Returns:
        ``{"release": CrisisMMD_v2.0 dir, "splits": split dir, "rows": {(task, split):
        [row dicts]}, "png_images": [relative paths of PNG-content images]}``.
    """
    root = os.fspath(root)
    release = os.path.join(root, "CrisisMMD_v2.0")
    split_dir = os.path.join(root, "crisismmd_datasplit_all")
    os.makedirs(os.path.join(release, "annotations"), exist_ok=True)
    os.makedirs(split_dir, exist_ok=True)
    rows = {}
    annotations = {event: [] for event, _ in EVENTS}
    png_images = []
    index = 0
    for split in ("train", "dev", "test"):
        split_rows = []
        for _ in range(split_sizes[split]):
            event, date = EVENTS[index % len(EVENTS)]
            tweet_id = str(900000000000000000 + index)
            image = f"data_image/{event}/{date}/{tweet_id}_0.jpg"
            path = os.path.join(release, image)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pixels = tf.constant(fixture_image(index))
            if index < len(EVENTS):  # a PNG saved as .jpg, as some release images are
                tf.io.write_file(path, tf.io.encode_png(pixels))
                png_images.append(image)
            else:
                tf.io.write_file(path, tf.io.encode_jpeg(pixels, quality=95))
            split_rows.append(
                {
                    "event_name": event,
                    "tweet_id": tweet_id,
                    "image_id": f"{tweet_id}_0",
                    "tweet_text": TEXTS[index % len(TEXTS)],
                    "image": image,
                    "index": index,
                }
            )
            annotations[event].append((tweet_id, image, TEXTS[index % len(TEXTS)]))
            index += 1
        rows[split] = split_rows

    out_rows = {}
    for task, classes in TASK_CLASSES.items():
        for split, split_rows in rows.items():
            lines = ["\t".join(OFFICIAL_COLUMNS)]
            task_rows = []
            for row in split_rows:
                label = classes[row["index"] % len(classes)]
                task_row = dict(row, label=label)
                task_rows.append(task_row)
                fields = [
                    row["event_name"], row["tweet_id"], row["image_id"], row["tweet_text"],
                    row["image"], label, label, label, "Positive",
                ]  # fmt: skip
                lines.append("\t".join(fields))
            out_rows[task, split] = task_rows
            with open(os.path.join(split_dir, official_split_filename(task, split)), "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")

    for event, entries in annotations.items():
        lines = ["\t".join(ANNOTATION_COLUMNS)]
        for tweet_id, image, text in entries:
            lines.append(
                "\t".join(
                    [tweet_id, f"{tweet_id}_0", "informative", "1.0", "informative", "1.0",
                     "other_relevant_information", "1.0", "other_relevant_information", "1.0",
                     "little_or_no_damage", "1.0", text, "http://example.invalid/x.jpg", image]
                )
            )  # fmt: skip
        with open(os.path.join(release, "annotations", f"{event}_final_data.tsv"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    return {"release": release, "splits": split_dir, "rows": out_rows, "png_images": png_images}


def expected_token_ids(text: str, max_length: int) -> list[int]:
    """Independent WordPiece of `VOCABULARY` for the fixture texts (greedy longest match).

    Lower-cases, splits on whitespace and punctuation, then matches the longest
    vocabulary prefix (continuations with ``##``), as BERT's WordPiece does.
    """
    import re

    vocab = {token: index for index, token in enumerate(VOCABULARY)}
    words = re.findall(r"\w+|[^\w\s]", text.lower())
    ids = []
    for word in words:
        start, pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(vocab[piece])
            start = end
        ids.extend(pieces)
    ids = [vocab["[CLS]"], *ids[: max_length - 2], vocab["[SEP]"]]
    return ids + [vocab["[PAD]"]] * (max_length - len(ids))


def make_bert_preset(path, seed: int = 0) -> str:
    """Saves a tiny `BertBackbone` and its tokenizer (`VOCABULARY`) as a local keras-hub preset."""
    import keras
    import keras_hub

    path = os.fspath(path)
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY),
        num_layers=2,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=64,
    )
    # BERT's 0.02-std init keeps the pooler near tanh's linear range; widen it so
    # that tests can tell the pre-tanh feature from the pooled output.
    backbone.pooled_dense.kernel.assign(backbone.pooled_dense.kernel * 50.0)
    backbone.save_to_preset(path)
    keras_hub.tokenizers.BertTokenizer(vocabulary=list(VOCABULARY), lowercase=True).save_to_preset(path)
    return path
