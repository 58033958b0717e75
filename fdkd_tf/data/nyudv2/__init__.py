"""NYU-Depth V2 (labelled release): RGB and depth semantic segmentation, 40 classes.

The paper segments the 1,449 densely labelled RGB-D pairs of NYU-Depth V2 into the
standard 40 classes (Gupta et al., 2013) with the standard 795 / 654 train / test
split (Silberman et al., 2012), scored by mean IoU. Either modality teaches the
other (``data.teacher`` / ``data.student``: ``rgb`` or ``depth``).

**Raw release** (``tools/prepare_nyudv2.py --src RAW_DIR``), three files:

- ``nyu_depth_v2_labeled.mat``: MATLAB v7.3 (HDF5). MATLAB stores arrays
  column-major, so h5py sees them transposed: ``images`` ``(1449, 3, 640, 480)``
  uint8, ``depths`` ``(1449, 640, 480)`` float (metres, holes filled), ``labels``
  ``(1449, 640, 480)`` uint16 with 0 = unlabelled and 1..894 the raw classes.
  Sample ``i`` is ``images[i].transpose(2, 1, 0)`` -> ``(480, 640, 3)``.
- ``splits.mat``: ``trainNdxs`` (795) and ``testNdxs`` (654), 1-based indices
  into the ``.mat`` (from the NYU-Depth V2 site).
- ``classMapping40.mat``: ``mapClass`` (894 values in 1..40: raw class k -> its
  40-class index) and ``className`` (the 40 names), from Gupta et al.'s release
  (``benchmarkData/metadata``).

Both ``.mat`` formats (v5, read with scipy; v7.3, read with h5py) are accepted for
the two small files.

**Prepared layout** (``--out DATA_DIR``, what `build_nyudv2` reads)::

    rgb/0001.png     8-bit RGB, 480 x 640
    depth/0001.png   16-bit grey, depth in millimetres (metres * 1000, rounded)
    label/0001.png   8-bit grey, 40-class index 0..39, 255 = unlabelled (ignored)
    train.txt        one sample id per line: the 1-based .mat index (795 lines)
    test.txt         the same for the test split (654 lines)
    classes.txt      the 40 class names, one per line, in index order
    prepare_report.json   counts and the samples that could not be prepared

The validation split that selects checkpoints is carved out of ``train.txt``
(``data.val_fraction`` of it, fixed by ``data.split_seed``); the test split is the
official one.

The package is split by job: `release` reads the raw files, `preparation` writes the
prepared layout (on `fdkd_tf.data.preparation`), `layout` holds its constants and
checks, `pipeline` builds the ``tf.data`` pipelines and registers ``nyudv2``.
"""


from fdkd_tf.data.nyudv2.layout import (
    CLASS_NAMES,
    CLASSES_FILE,
    MODALITIES,
    NUM_CLASSES,
    OFFICIAL_SPLIT_SIZES,
    SPLIT_FILES,
    png_header,
    sample_id,
    sample_path,
)
from fdkd_tf.data.nyudv2.pipeline import build_nyudv2
from fdkd_tf.data.nyudv2.preparation import prepare_nyudv2, write_png
from fdkd_tf.data.nyudv2.release import NUM_LABELLED, NUM_RAW_CLASSES, RAW_FILES
from fdkd_tf.data.preparation import REPORT_FILE

__all__ = [
    "CLASS_NAMES",
    "CLASSES_FILE",
    "MODALITIES",
    "NUM_CLASSES",
    "NUM_LABELLED",
    "NUM_RAW_CLASSES",
    "OFFICIAL_SPLIT_SIZES",
    "RAW_FILES",
    "REPORT_FILE",
    "SPLIT_FILES",
    "build_nyudv2",
    "png_header",
    "prepare_nyudv2",
    "sample_id",
    "sample_path",
    "write_png",
]
