"""A miniature prepared CrisisMMD directory and vocabulary, for tests and smoke runs (the registry's fixture)."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from fdkd_tf.data.crisismmd.layout import IMAGE_DIR, PREPARED_COLUMNS, SPLIT_NAMES, TASK_CLASSES, prepared_split_filename
from fdkd_tf.files import write_text

#: [PAD] first (id 0) and lower-case pieces, as in an uncased BERT vocabulary
VOCABULARY = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "flood", "water", "damage", "help", "people", "the", "road", "news")
TEXTS = ("flood water damage", "help the people", "the road news", "water help")


def write_crisismmd_fixture(root: str, per_split: int = 4, task: str = "informative") -> dict:
    """Writes ``per_split`` text-image pairs per split of ``task`` and a tiny vocabulary.

    Each image is a flat colour of its class (plus noise) and each text cycles
    through `TEXTS`; the split sizes differ from the benchmark, so loading it warns.

    Returns:
        The ``data`` keys that select it.
    """
    rng, classes = np.random.default_rng(0), TASK_CLASSES[task]
    for split in SPLIT_NAMES.values():
        rows = ["\t".join(PREPARED_COLUMNS)]
        for number in range(per_split):
            label = number % len(classes)
            image = f"{IMAGE_DIR}/fixture/{split}_{number}.jpg"
            pixels = np.full((24, 24, 3), 60 + 120 * label, np.uint8) + rng.integers(0, 20, (24, 24, 3), dtype=np.uint8)
            os.makedirs(os.path.dirname(os.path.join(root, image)), exist_ok=True)
            tf.io.write_file(os.path.join(root, image), tf.io.encode_jpeg(pixels))
            rows.append("\t".join((f"{split}{number}", f"{split}{number}_0", image, classes[label], TEXTS[number % len(TEXTS)])))
        write_text(os.path.join(root, prepared_split_filename(task, split)), "\n".join(rows) + "\n")
    vocabulary = os.path.join(root, "vocab.txt")
    write_text(vocabulary, "\n".join(VOCABULARY) + "\n")
    return {"name": "crisismmd", "root": root, "task": task, "teacher": "image", "student": "text",
            "vocabulary": vocabulary, "image_size": 32, "max_length": 8, "batch_size": 2}
