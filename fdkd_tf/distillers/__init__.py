"""Distillation methods, one file each, selected by name from the config.

Adding a method = one file with a `Distiller` subclass + one entry below + its
config section in `fdkd_tf.config.DistillConfig`.
"""

from __future__ import annotations

from fdkd_tf.distillers.base import Direction, Distiller
from fdkd_tf.distillers.fdcmkd import FrequencyDecoupledDistillation
from fdkd_tf.distillers.feat import FeatureDistillation
from fdkd_tf.distillers.kd import LogitDistillation
from fdkd_tf.distillers.none import NoDistillation

#: method name -> (Distiller class, name of its section in DistillConfig or None)
REGISTRY = {
    "none": (NoDistillation, None),
    "kd": (LogitDistillation, "kd"),
    "feat": (FeatureDistillation, "feat"),
    "fdcmkd": (FrequencyDecoupledDistillation, "fdcmkd"),
}


def available() -> list[str]:
    """Names of the registered methods."""
    return sorted(REGISTRY)


def build_distiller(distill_config, directions, num_classes: int) -> Distiller:
    """Instantiates the configured method over the given directions.

    Args:
        distill_config: `fdkd_tf.config.DistillConfig`.
        directions: list of `Direction`.
        num_classes: number of classes.

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
        name=f"{method}_distiller",
    )


__all__ = ["Direction", "Distiller", "REGISTRY", "available", "build_distiller"]
