"""Experiment configuration: YAML -> typed dataclasses, validated on load.

Every experiment is one YAML file whose keys mirror the dataclasses below. Loading
checks each key against its declared type and range, so a typo or a bad value
stops the run before any data is read, with an error that names the key path and
the file. ``--set a.b=c`` overrides are applied to the YAML tree before
validation, so they obey the same rules.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import yaml

from fdkd_tf import distillers
from fdkd_tf.settings import (  # noqa: F401  (ConfigError and build_section are re-exported)
    ConfigError,
    _build,
    _check,
    _fraction,
    _in_unit_interval,
    _non_negative,
    _positive,
    build_section,
)


class _YamlLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also reads ``1e3``, ``1.0e3`` and ``1e-4`` as floats.

    PyYAML follows YAML 1.1, whose floats need a dot and a signed exponent, so
    ``lambda1: 1e3`` (or ``--set distill.fdcmkd.lambda1=1e3``) would load as the
    string ``'1e3'``. This adds the YAML 1.2 float forms; integers stay integers.
    """


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _load_yaml(stream):
    """Parses YAML text or a file with `_YamlLoader` (safe, YAML 1.2 floats)."""
    return yaml.load(stream, Loader=_YamlLoader)  # noqa: S506  (a SafeLoader subclass)


@dataclass
class ExperimentMeta:
    """Name, seed and reproducibility switches of a run."""

    name: str = "experiment"
    seed: int = 0
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism()


@dataclass
class DataConfig:
    """Which dataset, which modality teaches and which learns, and batching."""

    name: str = "mfeat"
    root: Optional[str] = None  # dataset directory; None = embedded data (mfeat)
    teacher: str = "pix"  # modality (view) of the teacher
    student: str = "fou"  # modality (view) of the student
    batch_size: int = field(default=64, metadata=_check(_positive, "a positive integer"))
    val_fraction: float = field(default=0.2, metadata=_check(_fraction, "in (0, 1)"))
    test_fraction: float = field(default=0.2, metadata=_check(_fraction, "in (0, 1)"))
    split_seed: int = 0  # the split is fixed by this seed, independent of experiment.seed
    shuffle_buffer: int = field(default=2048, metadata=_check(_positive, "a positive integer"))
    on_bad_sample: Literal["error", "skip"] = "error"
    # --- paper datasets (ignored by mfeat) ---
    num_frames: Optional[int] = field(default=None, metadata=_check(_positive, "a positive integer"))  # None = dataset default
    image_size: int = field(default=224, metadata=_check(_positive, "a positive integer"))
    audio_samples: Optional[int] = field(default=None, metadata=_check(lambda v: v > 512, "an integer above 512"))  # waveform length before the spectrogram; None = dataset default
    task: Optional[str] = None  # dataset sub-task, e.g. CrisisMMD 'informative' | 'humanitarian'
    vocabulary: Optional[str] = None  # tokenizer vocabulary file (text datasets)
    max_length: int = field(default=128, metadata=_check(_positive, "a positive integer"))  # text tokens
    ignore_label: int = 255  # segmentation pixels to ignore
    # --- data.name: manifest (your own paired files; fdkd_tf.data.manifest) ---
    manifest: Optional[str] = None  # the CSV: split,label,<one column per modality>
    teacher_kind: Optional[Literal["audio", "image", "npy", "text", "video"]] = None  # None = from the extension
    student_kind: Optional[Literal["audio", "image", "npy", "text", "video"]] = None
    # Deterministic views (eval views, the reference spectrogram) computed once:
    # auto | memory | disk | off (fdkd_tf.data.caching).
    cache: Literal["auto", "memory", "disk", "off"] = "auto"


@dataclass
class ModelSpec:
    """Architecture of the network for one modality.

    ``resnet18`` is the keras-hub ResNet-18 (basic blocks) whose feature is 512-d;
    ``small_cnn`` and ``mlp`` take their feature size from ``feature_dim``. ``saved``
    is a Keras classifier of one's own, loaded from the ``.keras`` file ``path`` and
    wrapped with `fdkd_tf.models.wrap_classifier` at ``feature_layer``; a saved
    teacher is not trained again (stage 1 only evaluates it).
    """

    arch: Literal["resnet18", "small_cnn", "mlp", "bert", "mobilenet_v2", "deeplabv3plus", "saved"] = "mlp"
    feature_dim: int = field(default=128, metadata=_check(_positive, "a positive integer"))
    hidden_units: list[int] = field(default_factory=lambda: [256])  # mlp only
    filters: list[int] = field(default_factory=lambda: [32, 64])  # small_cnn only
    dropout: float = field(default=0.0, metadata=_check(_in_unit_interval, "in [0, 1)"))
    preset: Optional[str] = None  # local keras-hub preset directory (pretrained weights); never downloaded
    size: str = "base"  # architecture size where an arch has several (e.g. bert: base | tiny)
    path: Optional[str] = None  # arch saved: the .keras file of one's own classifier (logits out)
    feature_layer: Optional[str] = None  # arch saved: the layer whose output is the feature


@dataclass
class ModelConfig:
    """Architectures per modality: ``teacher`` for the teacher modality, ``student``
    for the student modality (with ``direction: both`` each modality has a teacher
    and a student of that same architecture)."""

    teacher: ModelSpec = field(default_factory=lambda: ModelSpec(arch="small_cnn"))
    student: ModelSpec = field(default_factory=ModelSpec)


@dataclass
class TeacherStage:
    """Stage 1: train the teacher(s) with cross-entropy, or load them."""

    checkpoint: Optional[str] = None  # teacher weights (.weights.h5) to load instead
    reverse_checkpoint: Optional[str] = None  # student-modality teacher for direction both
    epochs: Optional[int] = field(default=None, metadata=_check(_positive, "a positive integer"))


@dataclass
class DistillSettings:
    """Stage 2 settings shared by every method: which method, which direction(s)."""

    method: str = "fdcmkd"
    direction: Literal["forward", "both"] = "forward"
    # Student feature -> teacher size: 'auto' adds a learned Linear only when the
    # sizes differ, 'linear' always adds one, 'none' requires equal sizes.
    projection: Literal["auto", "linear", "none"] = "auto"
    # A frozen teacher's outputs computed once per sample instead of every step:
    # auto | memory | disk | off (fdkd_tf.training.teacher_cache).
    teacher_cache: Literal["auto", "memory", "disk", "off"] = "auto"


def _method_sections() -> list[tuple[str, type]]:
    """``(section, settings dataclass)`` of every registered method that has settings,
    the project's own method first (the order of ``distill`` in a dumped config)."""
    sections = [(section, cls.settings_class) for cls, section in distillers.REGISTRY.values() if section]
    return sorted(sections, key=lambda item: item[0] != "fdcmkd")


#: ``distill``: `DistillSettings` plus one section per method, each the settings
#: dataclass declared beside its distiller (``distill.kd`` is `KDConfig` of
#: fdkd_tf/distillers/kd.py); a new method's section appears with its registry entry.
DistillConfig = dataclasses.make_dataclass(
    "DistillConfig",
    [(section, settings, field(default_factory=settings)) for section, settings in _method_sections()],
    bases=(DistillSettings,),
    namespace={"__doc__": "Stage 2: which method, which direction(s), and each method's settings."},
)
DistillConfig.__module__ = __name__  # make_dataclass(module=...) needs Python 3.12


@dataclass
class TrainConfig:
    """Optimizer, schedule and distribution strategy (both stages)."""

    epochs: int = field(default=100, metadata=_check(_positive, "a positive integer"))
    optimizer: Literal["sgd", "adam"] = "sgd"
    learning_rate: float = field(default=1e-2, metadata=_check(_positive, "> 0"))
    final_learning_rate: float = field(default=1e-4, metadata=_check(_non_negative, ">= 0"))
    schedule: Literal["poly", "constant"] = "poly"
    power: float = field(default=0.9, metadata=_check(_positive, "> 0"))
    momentum: float = field(default=0.9, metadata=_check(_in_unit_interval, "in [0, 1)"))
    weight_decay: float = field(default=0.0, metadata=_check(_non_negative, ">= 0"))
    strategy: Literal["auto", "default", "mirrored", "multi_worker"] = "auto"
    verbose: int = field(default=1, metadata=_check(_non_negative, "0, 1 or 2"))
    # Dtype policy of every student, teacher and head in both stages (and tune.py);
    # the FFT, standardization and every loss stay float32 (README, "Precision").
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = "float32"
    # XLA: 'auto' is Keras' rule (on with JAX; on TensorFlow only with a GPU and no
    # tf.distribute strategy), true/false force it.
    jit_compile: Literal["auto", True, False] = field(
        default="auto", metadata=_check(lambda v: v == "auto" or isinstance(v, bool), "'auto', true or false")
    )
    steps_per_execution: int = field(default=1, metadata=_check(_positive, "a positive integer"))  # batches per compiled call
    # Average the gradients of this many batches before each optimizer update (one device
    # only: Keras 3 cannot run it under a multi-replica tf.distribute strategy).
    gradient_accumulation_steps: int = field(default=1, metadata=_check(_positive, "a positive integer"))


@dataclass
class AnalysisConfig:
    """The paper's analyses (Table 1, Figures 1 and 4) logged when training ends.

    With ``tensorboard: true`` the run logs, under ``logs/analysis``, the band
    similarity curve, the per-dimension feature means and a t-SNE of the teacher's
    and the student's test features (`fdkd_tf.analysis`). Training ignores it.
    """

    tensorboard: bool = False
    # Features of different sizes: 'none' skips similarity and t-SNE, 'lstsq' maps
    # the second model's features to the first's size (least squares on train).
    projection: Literal["none", "lstsq"] = "none"
    tsne_samples: int = field(default=500, metadata=_check(_positive, "a positive integer"))  # per model
    tsne_perplexity: float = field(default=30.0, metadata=_check(_positive, "> 0"))


@dataclass
class TuneConfig:
    """Search space of ``tools/tune.py`` (keras-tuner over the distiller).

    ``lambda1`` / ``lambda2`` (paper Eq. 11, ``distill.fdcmkd``) are sampled on a log
    scale: the band losses are of order 1/D (REFERENCE_NOTES, "Scale of the terms"),
    so useful weights span 1e-1 to 1e4. Training ignores this section.
    """

    lambda1_min: float = field(default=1e-1, metadata=_check(_positive, "> 0"))
    lambda1_max: float = field(default=1e4, metadata=_check(_positive, "> 0"))
    lambda2_min: float = field(default=1e-1, metadata=_check(_positive, "> 0"))
    lambda2_max: float = field(default=1e4, metadata=_check(_positive, "> 0"))
    tune_learning_rate: bool = False  # also search train.learning_rate (log scale)
    learning_rate_min: float = field(default=1e-4, metadata=_check(_positive, "> 0"))
    learning_rate_max: float = field(default=1e-1, metadata=_check(_positive, "> 0"))
    hyperband_factor: int = field(default=3, metadata=_check(lambda v: v >= 2, "an integer >= 2"))


@dataclass
class ExperimentConfig:
    """The whole experiment; one YAML file."""

    experiment: ExperimentMeta = field(default_factory=ExperimentMeta)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    teacher: TeacherStage = field(default_factory=TeacherStage)
    distill: DistillConfig = field(default_factory=DistillConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)


# --------------------------------------------------------------------------- parsing


def _validate_semantics(config: ExperimentConfig, source: str) -> None:
    """Cross-field rules that a single type check cannot express."""
    def fail(path, message):
        raise ConfigError(f"config key '{path}' {message} ({source})")

    if config.distill.method not in distillers.available():
        fail(
            "distill.method",
            f"must be one of {', '.join(distillers.available())}, got "
            f"{config.distill.method!r}",
        )
    if config.data.val_fraction + config.data.test_fraction >= 1.0:
        fail("data.val_fraction", "plus data.test_fraction must be below 1")
    if config.data.teacher == config.data.student:
        fail("data.student", f"must differ from data.teacher ({config.data.teacher!r})")
    if config.train.final_learning_rate > config.train.learning_rate:
        fail("train.final_learning_rate", "must not exceed train.learning_rate")
    if config.train.verbose > 2:
        fail("train.verbose", f"must be 0, 1 or 2, got {config.train.verbose}")
    for name in ("lambda1", "lambda2", "learning_rate"):
        if getattr(config.tune, f"{name}_min") > getattr(config.tune, f"{name}_max"):
            fail(f"tune.{name}_min", f"must not exceed tune.{name}_max")
    fd = config.distill.fdcmkd
    if fd.log and not fd.freq:
        fail("distill.fdcmkd.log", "needs distill.fdcmkd.freq: true (logMSE acts on the high band)")
    for spec_path, spec in (("model.teacher", config.model.teacher), ("model.student", config.model.student)):
        if any(u <= 0 for u in spec.hidden_units):
            fail(f"{spec_path}.hidden_units", "must hold positive integers")
        if any(f <= 0 for f in spec.filters):
            fail(f"{spec_path}.filters", "must hold positive integers")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parses ``a.b.c=value`` (value in YAML syntax) into (['a','b','c'], value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = _load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({error})") from None
    return key.split("."), value


def apply_overrides(tree: dict, overrides: list[str]) -> dict:
    """Returns a copy of the YAML tree with ``key.path=value`` overrides applied."""
    import copy

    tree = copy.deepcopy(tree)
    for text in overrides:
        keys, value = parse_override(text)
        node = tree
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {text!r}: '{'.'.join(keys[: depth + 1])}' is not a mapping"
                )
            node = child
        node[keys[-1]] = value
    return tree


def config_from_dict(tree: dict, source: str = "<dict>") -> ExperimentConfig:
    """Validates a YAML-like tree and returns the typed config."""
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError(f"config must be a mapping at the top level ({source})")
    config = _build(ExperimentConfig, tree, "", source)
    _validate_semantics(config, source)
    return config


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem, its line and column (1-based)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def load_config(path: str | os.PathLike, overrides: Optional[list[str]] = None) -> ExperimentConfig:
    """Loads, overrides and validates an experiment YAML file.

    Args:
        path: the YAML file.
        overrides: ``key.path=value`` strings, applied before validation.

    Returns:
        The validated `ExperimentConfig`.

    Raises:
        ConfigError: naming the key path and the file.

    Example:
        >>> cfg = load_config("configs/mfeat.yaml", ["train.epochs=2"])
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        what = "is a directory, not a config file" if os.path.isdir(path) else "not found"
        raise ConfigError(f"config file {what}: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            tree = _load_yaml(handle)
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {yaml_problem(error)}") from None
    if tree is not None and not isinstance(tree, dict):
        raise ConfigError(
            f"{path} must hold a mapping of sections (experiment:, data:, ...), got a {type(tree).__name__}"
        )
    tree = apply_overrides(tree or {}, overrides or [])
    source = path if not overrides else f"{path} with --set {' '.join(overrides)}"
    return config_from_dict(tree, source)


def config_to_dict(config: ExperimentConfig) -> dict:
    """The fully resolved config as a plain tree (what ``config.yaml`` holds)."""
    return dataclasses.asdict(config)


def dump_config(config: ExperimentConfig) -> str:
    """The fully resolved config as YAML text."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
