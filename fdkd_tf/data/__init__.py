"""Input pipelines: datasets by name (``data.name``) -> a `DatasetBundle`.

Importing this package registers the built-in datasets (mfeat, shipped inside the
package), so `build_datasets` finds them.
"""

from fdkd_tf.data import mfeat  # noqa: F401  (registers "mfeat")
from fdkd_tf.data import crisismmd  # noqa: F401  (registers "crisismmd")
from fdkd_tf.data import ave, cremad, vggsound  # noqa: F401  (register "ave", "cremad", "vggsound")
from fdkd_tf.data import nyudv2  # noqa: F401  (registers "nyudv2")
from fdkd_tf.data import spoken_digits  # noqa: F401  (registers "spoken_digits")
from fdkd_tf.data import manifest  # noqa: F401  (registers "manifest")
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.registry import AudioFrontendSpec, DatasetInfo, available_datasets, build_datasets, dataset_info, register_dataset
from fdkd_tf.data.splits import stratified_split

__all__ = [
    "AudioFrontendSpec",
    "DatasetBundle",
    "DatasetInfo",
    "available_datasets",
    "build_datasets",
    "dataset_info",
    "register_dataset",
    "stratified_split",
]
