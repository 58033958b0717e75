"""CrisisMMD v2.0 (Alam, Ofli and Imran, 2018): tweet text paired with its image.

The paper distils between a BERT-base text model and a MobileNetV2 image model on
CrisisMMD. We use the official benchmark splits of the release
(``crisismmd_datasplit_all/task_<task>_text_img_{train,dev,test}.tsv``, Ofli, Alam
and Imran, 2020), whose text-image pairs carry one label agreed by both
modalities, for two tasks:

- ``informative``: informative / not_informative (9,601 / 1,573 / 1,534 pairs);
- ``humanitarian``: the five classes of that benchmark (6,126 / 998 / 955 pairs).

The official ``dev`` split is our validation split (``data.val_fraction`` and
``data.test_fraction`` do not apply).

Two steps:

1. `prepare_crisismmd` (``tools/prepare_crisismmd.py --src RAW --out DATA``) reads the
   official release (``CrisisMMD_v2.0/data_image/<event>/<date>/<id>.jpg`` and the
   split TSVs), checks that every image decodes, copies it (re-encoded as JPEG when
   it is stored in another format) to ``DATA/data_image/...``, and writes
   ``DATA/<task>_<split>.tsv`` plus a report of what it could not read.
2. `build_crisismmd` (``data.name: crisismmd``, ``data.root: DATA``) reads those
   files: the tweet texts are tokenized once, up front (they are small); the images
   are decoded lazily by a parallel `tf.data` map with prefetch, so no image is
   held in memory beyond the batches in flight.

Views: ``text`` (``(max_length,)`` int32 BERT token ids, `fdkd_tf.data.text`) and
``image`` (``(image_size, image_size, 3)`` float32, `fdkd_tf.data.images`).

The package is split by job: `release` finds the official files, `preparation`
writes the prepared layout (on `fdkd_tf.data.preparation`), `layout` holds the
split files' constants, parsing and checks, `pipeline` builds the ``tf.data``
pipelines and registers ``crisismmd``.
"""

from fdkd_tf.data.crisismmd.layout import (
    MODALITIES,
    OFFICIAL_COLUMNS,
    OFFICIAL_SPLIT_SIZES,
    OFFICIAL_SPLITS,
    PREPARED_COLUMNS,
    SPLIT_NAMES,
    TASK_CLASSES,
    UNREADABLE_FILE,
    Sample,
    check_split_size,
    official_split_filename,
    prepared_split_filename,
    read_split_file,
)
from fdkd_tf.data.crisismmd.pipeline import build_crisismmd
from fdkd_tf.data.crisismmd.preparation import prepare_crisismmd, prepare_image
from fdkd_tf.data.crisismmd.release import locate_release
from fdkd_tf.data.errors import DatasetWarning
from fdkd_tf.data.preparation import REPORT_FILE

__all__ = [
    "DatasetWarning",
    "MODALITIES",
    "OFFICIAL_COLUMNS",
    "OFFICIAL_SPLIT_SIZES",
    "OFFICIAL_SPLITS",
    "PREPARED_COLUMNS",
    "REPORT_FILE",
    "SPLIT_NAMES",
    "TASK_CLASSES",
    "UNREADABLE_FILE",
    "Sample",
    "build_crisismmd",
    "check_split_size",
    "locate_release",
    "official_split_filename",
    "prepare_crisismmd",
    "prepare_image",
    "prepared_split_filename",
    "read_split_file",
]
