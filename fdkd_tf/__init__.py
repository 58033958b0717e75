"""fdkd-tf: frequency-decoupled cross-modal knowledge distillation in Keras 3.

Importing the package registers every serializable layer, loss, schedule and
distiller, so a saved ``student.keras`` (or a whole distiller) reloads with
`keras.saving.load_model` after ``import fdkd_tf``.

What a user needs without the CLIs is here: the distillers by class name
(``fdkd_tf.FrequencyDecoupledDistillation``, ``fdkd_tf.LogitDistillation``, ...) and
by method name (`distiller_class`), `Direction`, `wrap_classifier` for one's own
Keras models, and, TensorFlow-bound and imported on first use, `run_experiment`,
`load_config` and `build_datasets`.

The method core imported here (layers, losses, models, distillers, schedules) is
written with `keras.ops` and imports without TensorFlow, so it runs under
``KERAS_BACKEND=jax`` and ``torch`` too. The data pipelines, export, distribution
strategies and the CLIs are TensorFlow and are imported only where used.
"""

from fdkd_tf import distillers, layers, losses, models  # noqa: F401  (registration)
from fdkd_tf.distillers import REGISTRY, Direction, Distiller, available
from fdkd_tf.distillers.afd import AttentionFeatureDistillation
from fdkd_tf.distillers.c2kd import CustomizedCrossModalDistillation
from fdkd_tf.distillers.dist import RelationDistillation
from fdkd_tf.distillers.dkd import DecoupledDistillation
from fdkd_tf.distillers.dml import MutualLearning
from fdkd_tf.distillers.fdcmkd import FrequencyDecoupledDistillation
from fdkd_tf.distillers.feat import FeatureDistillation
from fdkd_tf.distillers.kd import LogitDistillation
from fdkd_tf.distillers.nkd import NormalizedDistillation
from fdkd_tf.distillers.none import NoDistillation
from fdkd_tf.distillers.ofd import OverhaulDistillation
from fdkd_tf.distillers.pkd import PearsonDistillation
from fdkd_tf.models.wrapping import wrap_classifier, wrap_saved_model
from fdkd_tf.training import schedules  # noqa: F401  (registration)

__version__ = "0.1.0"

#: TensorFlow-bound entry points, imported on first use (``fdkd_tf.run_experiment``)
_LAZY = {
    "run_experiment": "fdkd_tf.training.experiment",
    "load_config": "fdkd_tf.config",
    "build_datasets": "fdkd_tf.data",
}


def distiller_class(method: str) -> type:
    """The `Distiller` class of a method name (``"fdcmkd"``, ``"kd"``, ...; see `available`)."""
    if method not in REGISTRY:
        raise ValueError(f"unknown distillation method {method!r}; choose one of {', '.join(available())}")
    return REGISTRY[method][0]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fdkd_tf' has no attribute {name!r}")


__all__ = [
    "AttentionFeatureDistillation",
    "CustomizedCrossModalDistillation",
    "DecoupledDistillation",
    "Direction",
    "Distiller",
    "FeatureDistillation",
    "FrequencyDecoupledDistillation",
    "LogitDistillation",
    "MutualLearning",
    "NoDistillation",
    "NormalizedDistillation",
    "OverhaulDistillation",
    "PearsonDistillation",
    "RelationDistillation",
    "available",
    "build_datasets",
    "distiller_class",
    "load_config",
    "run_experiment",
    "wrap_classifier",
    "wrap_saved_model",
]
