"""Input pipelines: datasets by name (``data.name``) -> a `DatasetBundle`.

Importing this package registers the built-in datasets (mfeat, shipped inside the
package), so `build_datasets` finds them.
"""

from fdkd_tf.data import mfeat  # noqa: F401  (registers "mfeat")
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.registry import available_datasets, build_datasets, register_dataset
from fdkd_tf.data.splits import stratified_split

__all__ = [
    "DatasetBundle",
    "available_datasets",
    "build_datasets",
    "register_dataset",
    "stratified_split",
]
