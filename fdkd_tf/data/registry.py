"""Dataset registry: ``data.name`` in the config -> the function that builds it,
and what the dataset provides.

Adding a dataset is one module with a builder decorated by `register_dataset`;
the training code only ever calls `build_datasets`, and other layers ask
`dataset_info` what a dataset provides (its modalities, the audio front end its
audio view was computed with, a fixture builder for tests) instead of naming
datasets, so no module grows a branch per dataset.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle

# Builder signature: (data_cfg, seed, deterministic) -> DatasetBundle.
DatasetBuilder = Callable[[DataConfig, int, bool], DatasetBundle]
# Fixture signature: (directory) -> the ``data`` keys that select the miniature dataset written there.
FixtureBuilder = Callable[[str], dict]


@dataclasses.dataclass(frozen=True)
class AudioFrontendSpec:
    """How a dataset turns a waveform into its audio view (`fdkd_tf.layers.AudioFrontend`).

    Attributes:
        kind: the front end's ``kind`` (``reference`` or ``vggsound``).
        sample_rate: the rate of the prepared waveforms, Hz.
        modality: the view it computes.
        num_samples: the waveform length the view is computed from, or None when
            ``data.audio_samples`` (or the front end's default) decides.
        waveforms: ``(data_cfg, split, count) -> (waveforms (n, samples) float32,
            labels (n,) int32)``: a split's real waveforms as the view sees them
            (tiled or cropped to the view's length; ``count`` None = all), or None
            when the prepared data keep no raw audio. Export verifies and
            calibrates a front-end graph on them.
    """

    kind: str
    sample_rate: int
    modality: str = "audio"
    num_samples: Optional[int] = None
    waveforms: Optional[Callable] = None

    def view_samples(self, data_cfg: DataConfig) -> Optional[int]:
        """The waveform length of the audio view of a run with ``data_cfg`` (None: the front end's default)."""
        return data_cfg.audio_samples or self.num_samples


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a registered dataset provides.

    Attributes:
        name: ``data.name``.
        builder: the pipeline builder.
        modalities: the views ``data.teacher`` / ``data.student`` may name (empty: named
            by the data themselves, as the manifest's CSV columns).
        audio_frontend: how its audio view is computed, or None without one; export
            puts this front end in front of an audio student (``--with-preprocessing``).
        fixture: writes a miniature prepared dataset into a directory and returns the
            ``data`` keys that select it (tests and smoke runs), or None.
    """

    name: str
    builder: DatasetBuilder
    modalities: tuple = ()
    audio_frontend: Optional[AudioFrontendSpec] = None
    fixture: Optional[FixtureBuilder] = None


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(
    name: str,
    *,
    modalities: tuple = (),
    audio_frontend: Optional[AudioFrontendSpec] = None,
    fixture: Optional[FixtureBuilder] = None,
) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Decorator that makes a builder reachable as ``data.name: <name>``.

    Args:
        name: the value of ``data.name`` that selects this builder.
        modalities: the views the dataset provides (see `DatasetInfo`).
        audio_frontend: how its audio view is computed, if it has one.
        fixture: a miniature-dataset writer, if it has one.

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
        existing = _DATASETS.get(name)
        if existing is not None and existing.builder is not builder:
            raise ValueError(
                f"dataset {name!r} is already registered by "
                f"{existing.builder.__module__}.{existing.builder.__qualname__}; pick another name"
            )
        _DATASETS[name] = DatasetInfo(name, builder, tuple(modalities), audio_frontend, fixture)
        return builder

    return decorator


def available_datasets() -> list[str]:
    """Names accepted by ``data.name``, sorted."""
    return sorted(_DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """What the dataset registered as ``name`` provides.

    Raises:
        ConfigError: naming ``data.name`` and the choices when ``name`` is not registered.
    """
    info = _DATASETS.get(name)
    if info is None:
        choices = ", ".join(available_datasets()) or "(none registered)"
        raise ConfigError(
            f"config key 'data.name' must be one of {choices}, got {name!r}; "
            "a new dataset needs a builder decorated with fdkd_tf.data.register_dataset"
        )
    return info


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
    return dataset_info(data_cfg.name).builder(data_cfg, seed, deterministic)
