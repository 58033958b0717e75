"""Distillation methods, one file each, selected by name from the config.

Adding a method = one file with its settings dataclass (fields typed and range-checked
with `fdkd_tf.settings`, the paper's defaults) and a `Distiller` subclass (its
``method`` name and ``settings_class``, registered with
`keras.saving.register_keras_serializable`) + one entry below: the registry entry's
section name is the method's key under ``distill`` in the config
(`fdkd_tf.config.DistillConfig` is assembled from this registry).
"""

from __future__ import annotations

from fdkd_tf.distillers.afd import AttentionFeatureDistillation
from fdkd_tf.distillers.base import Direction, Distiller
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

#: method name -> (Distiller class, name of its section in DistillConfig or None)
REGISTRY = {
    "none": (NoDistillation, None),
    "kd": (LogitDistillation, "kd"),
    "dist": (RelationDistillation, "dist"),
    "dml": (MutualLearning, "dml"),
    "nkd": (NormalizedDistillation, "nkd"),
    "dkd": (DecoupledDistillation, "dkd"),
    "feat": (FeatureDistillation, "feat"),
    "pkd": (PearsonDistillation, "pkd"),
    "ofd": (OverhaulDistillation, "ofd"),
    "afd": (AttentionFeatureDistillation, "afd"),
    "c2kd": (CustomizedCrossModalDistillation, "c2kd"),
    "fdcmkd": (FrequencyDecoupledDistillation, "fdcmkd"),
}


def available() -> list[str]:
    """Names of the registered methods."""
    return sorted(REGISTRY)


def build_distiller(distill_config, directions, num_classes: int, ignore_label=None) -> Distiller:
    """Instantiates the configured method over the given directions.

    Args:
        distill_config: `fdkd_tf.config.DistillConfig`.
        directions: list of `Direction`.
        num_classes: number of classes.
        ignore_label: ``data.ignore_label`` for segmentation (pixels left out of
            every loss and metric); unused by classification.

    Returns:
        An uncompiled `Distiller`.
    """
    method = distill_config.method
    if method not in REGISTRY:
        raise ValueError(f"unknown distillation method {method!r}; choose one of {', '.join(available())}")
    distiller_class, section = REGISTRY[method]
    settings = getattr(distill_config, section) if section else None
    return distiller_class(
        directions,
        num_classes=num_classes,
        settings=settings,
        projection=distill_config.projection,
        ignore_label=ignore_label,
        name=f"{method}_distiller",
    )


__all__ = ["Direction", "Distiller", "REGISTRY", "available", "build_distiller"]
