"""Dataset registry: ``data.name`` in the config -> the function that builds it.

Adding a dataset is one module with a builder decorated by `register_dataset`;
the training code only ever calls `build_datasets`, so it never grows a branch
per dataset.
"""

from __future__ import annotations

from typing import Callable

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle

# Builder signature: (data_cfg, seed, deterministic) -> DatasetBundle.
DatasetBuilder = Callable[[DataConfig, int, bool], DatasetBundle]

_BUILDERS: dict[str, DatasetBuilder] = {}


def register_dataset(name: str) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Decorator that makes a builder reachable as ``data.name: <name>``.

    Args:
        name: the value of ``data.name`` that selects this builder.

    Returns:
        A decorator that registers the builder and returns it unchanged.

    Raises:
        ValueError: if another builder already holds ``name``.

    Example:
        >>> @register_dataset("toy")
        ... def build_toy(data_cfg, seed, deterministic=False):
        ...     ...
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_dataset: name must be a non-empty string, got {name!r}")

    def decorator(builder: DatasetBuilder) -> DatasetBuilder:
        existing = _BUILDERS.get(name)
        if existing is not None and existing is not builder:
            raise ValueError(
                f"dataset {name!r} is already registered by "
                f"{existing.__module__}.{existing.__qualname__}; pick another name"
            )
        _BUILDERS[name] = builder
        return builder

    return decorator


def available_datasets() -> list[str]:
    """Names accepted by ``data.name``, sorted."""
    return sorted(_BUILDERS)


def build_datasets(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Builds the train/val/test pipelines that ``data_cfg`` describes.

    Args:
        data_cfg: the ``data`` section of the experiment config.
        seed: the experiment seed; it orders the training shuffle only, never the
            split (that is ``data.split_seed``).
        deterministic: make the pipelines' element order reproducible
            (``tf.data.Options.deterministic``).

    Returns:
        The `DatasetBundle` of the selected dataset.

    Raises:
        ConfigError: if ``data.name`` names no registered dataset, or the builder
            rejects another ``data`` key.

    Example:
        >>> bundle = build_datasets(DataConfig(name="mfeat"), seed=0)
        >>> bundle.sizes
        {'train': 1200, 'val': 400, 'test': 400}
    """
    builder = _BUILDERS.get(data_cfg.name)
    if builder is None:
        choices = ", ".join(available_datasets()) or "(none registered)"
        raise ConfigError(
            f"config key 'data.name' must be one of {choices}, got {data_cfg.name!r}; "
            "a new dataset needs a builder decorated with fdkd_tf.data.register_dataset"
        )
    return builder(data_cfg, seed, deterministic)
