"""The distiller base: frozen teacher(s), student(s), method heads, Keras' training contract.

A method subclass says only what differs: its settings dataclass
(`settings_class`), the extra layers it needs per direction (`build_modules`) and
its per-sample loss terms (`loss_terms`). The base owns the rest, written with
`keras.ops` so that it runs on every Keras backend:

- `call` is the forward pass of every direction: the students in the given phase,
  the teachers in inference mode with their outputs detached (unless the method
  trains them). Its outputs are what Keras hands to `compute_loss` as ``y_pred``.
- `compute_loss` turns those outputs into the method's weighted sum of terms, as
  `keras.distillation.Distiller` does. Keras' own JAX and torch trainers call it;
  on TensorFlow the custom `train_step` below calls it. It also updates one metric
  per term and per head, inside the loss computation as Keras' own per-output loss
  trackers are, so the stateless JAX step carries them too.
- Loss scaling for distribution: under a `tf.distribute` strategy each replica
  sees ``global_batch / replicas`` samples and the gradients are *summed* across
  replicas, so `compute_loss` divides the replica's mean loss by the number of
  replicas (what `keras.losses.Loss` does). A step on R replicas then equals a step
  on one device with the same global batch. Logged terms are unscaled means,
  weighted by each replica's batch size.

Everything else is Keras': ``compile(metrics=...)``, ``jit_compile``,
``steps_per_execution``, the optimizer's ``gradient_accumulation_steps``, the
`LossScaleOptimizer` of ``mixed_float16`` and the standard callbacks behave as for
a plain `keras.Model`. Metrics that a monitor callback may watch are grouped so
that Keras finds their direction (accuracy and mIoU up, loss terms down), which
lets ``EarlyStopping(monitor="val_acc")`` work without ``mode``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import keras
from keras import ops
from keras.src.trainers.compile_utils import MetricsList  # the group monitor callbacks search

from fdkd_tf.settings import ConfigError, build_section
from fdkd_tf.losses import cross_entropy
from fdkd_tf.losses.classification import resize_to_labels

#: Input key of precomputed teacher outputs, ``{direction name: {output: tensor}}``
#: (`fdkd_tf.training.teacher_cache`); when present, `Distiller.call` reads them
#: instead of running that direction's frozen teacher.
CACHED_TEACHER_KEY = "teacher_outputs"


@dataclasses.dataclass
class Direction:
    """One teacher -> student pair of a distillation run.

    Attributes:
        name: the student's modality; prefixes this direction's metrics when a run
            has more than one direction.
        student_input: key of the input dict the student reads (``"student"`` or
            ``"teacher"``).
        student: classifier returning ``{"features", "logits"}``.
        teacher_input: key of the input dict the teacher reads, or None.
        teacher: pre-trained classifier of the other modality, or None (``none``).
    """

    name: str
    student_input: str
    student: keras.Model
    teacher_input: Optional[str] = None
    teacher: Optional[keras.Model] = None


def feature_size(model: keras.Model) -> int:
    """Size of the ``features`` output of a classifier."""
    return int(model.output["features"].shape[-1])


def build_projection(student_dim: int, teacher_dim: int, mode: str, name: str):
    """The learned student -> teacher feature map, or None when not needed.

    ``auto`` adds a Linear layer only when the sizes differ (as FitNet's regressor
    does), ``linear`` always adds one, ``none`` requires equal sizes.
    """
    if mode == "none":
        if student_dim != teacher_dim:
            raise ValueError(
                f"student feature size {student_dim} differs from teacher feature size "
                f"{teacher_dim}; set distill.projection to 'auto' or 'linear'"
            )
        return None
    if mode == "auto" and student_dim == teacher_dim:
        return None
    projection = keras.layers.Dense(
        teacher_dim, kernel_initializer="glorot_normal", name=name
    )
    projection.build((None, student_dim))
    return projection


class MetricGroup(MetricsList):
    """Metrics logged side by side (each under its own name) as one Keras metric.

    Keras' monitor callbacks (`EarlyStopping`, `ModelCheckpoint`) read a metric's
    direction only from metrics inside such a group, the way compiled metrics are
    held; grouping the method's term and head metrics gives them the same
    treatment, so ``monitor="val_acc"`` needs no ``mode``.
    """

    def result(self):
        return self.get_result()


def _copy_metric(metric):
    """A fresh copy of a metric instance (a name or a function is returned as is)."""
    if isinstance(metric, keras.metrics.Metric):
        return type(metric).from_config(metric.get_config())
    return metric


def replicas_in_sync() -> int:
    """Replicas of the current `tf.distribute` strategy (1 on other backends)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf  # only on the TensorFlow backend

    return tf.distribute.get_strategy().num_replicas_in_sync


def multi_worker() -> bool:
    """Whether the current strategy spans several workers (`MultiWorkerMirroredStrategy`)."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf  # only on the TensorFlow backend

    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def as_worker_logs(logs: dict) -> dict:
    """Logs a multi-worker step can return: Keras' TensorFlow trainer averages each
    log over workers with ``strategy.reduce("MEAN", value, axis=0)``, which needs a
    batch axis, so each scalar gets one (of length 1); elsewhere ``logs`` unchanged."""
    if not multi_worker():
        return logs
    return {name: ops.reshape(value, (1,)) if len(ops.shape(value)) == 0 else value for name, value in logs.items()}


def resolve_settings(settings_class, settings, overrides: dict, method: str):
    """The method's settings: ``settings`` (a dataclass, a mapping or None for the
    paper's defaults) with keyword ``overrides`` applied and validated like a
    config section (`fdkd_tf.config.build_section`).

    Raises:
        ConfigError: an unknown key or a bad value, named as ``distill.<method>.<key>``.
    """
    if settings_class is None:
        if overrides:
            raise ConfigError(f"distill.method '{method}' has no settings; got {', '.join(sorted(overrides))}")
        return settings
    if settings is None:
        values = {}
    elif dataclasses.is_dataclass(settings):
        values = dataclasses.asdict(settings)
    elif isinstance(settings, dict):
        values = dict(settings)
    else:
        raise ConfigError(
            f"settings of distill.method '{method}' must be a {settings_class.__name__} or a mapping, "
            f"got {type(settings).__name__}"
        )
    values.update(overrides)
    return build_section(settings_class, values, f"distill.{method}", "distiller arguments")


@keras.saving.register_keras_serializable(package="fdkd_tf")
class Distiller(keras.Model):
    """Base `keras.Model` for every distillation method.

    Args:
        directions: one `Direction` (or two for ``direction: both``).
        num_classes: number of classes of the task.
        settings: the method's settings: its dataclass (``settings_class``), a
            mapping of its fields, or None for the paper's defaults.
        projection: ``auto | linear | none``, see `build_projection`.
        ignore_label: label of pixels without a class in dense (segmentation)
            tasks (``data.ignore_label``); they count in no loss and no metric.
            Ignored for classification.
        **kwargs: fields of the method's settings (``lambda1=1e3``), applied over
            ``settings``; the rest are `keras.Model` arguments (``name``).

    The task is read from the students: ``logits`` of rank 4 ``(batch, H, W,
    classes)`` make a segmentation direction, scored by mean IoU (``miou``)
    instead of accuracy (``acc``).

    Subclasses set ``method`` / ``settings_class`` / ``uses_teacher`` /
    ``uses_projection`` / ``extra_accuracy_heads``, are registered with
    `keras.saving.register_keras_serializable`, and implement `term_names`, `loss_terms` and, when
    they add layers, `build_modules`.

    Example:
        >>> distiller = FrequencyDecoupledDistillation(directions, num_classes=10, lambda1=1e3)
        >>> distiller.compile(optimizer="sgd", metrics=["accuracy"])  # doctest: +SKIP
        >>> distiller.fit(paired_dataset, epochs=2)  # doctest: +SKIP
    """

    #: The method's name in the registry and config (``distill.method``).
    method: str = "distiller"
    #: The method's settings dataclass (`fdkd_tf.config`), or None.
    settings_class = None
    #: Whether the method needs a teacher (``none`` does not).
    uses_teacher: bool = True
    #: Whether student features are projected to the teacher's feature size.
    uses_projection: bool = False
    #: Whether the teacher keeps learning (DML, C2KD): then it runs in training
    #: mode, receives gradients and its weights are updated with the student's.
    trains_teacher: bool = False
    #: Names of the heads whose accuracy is reported besides the student's own.
    extra_accuracy_heads: tuple[str, ...] = ()
    #: The teacher outputs `loss_terms` reads: what a teacher output cache holds.
    teacher_outputs: tuple[str, ...] = ("features", "logits")

    def __init__(self, directions, num_classes: int, settings: Any = None, projection: str = "auto", ignore_label: Optional[int] = None, **kwargs):
        method = self.method
        fields = {f.name for f in dataclasses.fields(self.settings_class)} if self.settings_class else set()
        overrides = {key: kwargs.pop(key) for key in list(kwargs) if key in fields}
        settings = resolve_settings(self.settings_class, settings, overrides, method)
        if directions and "dtype" not in kwargs:
            # The students' precision is the distiller's: compile() then wraps the
            # optimizer in a LossScaleOptimizer exactly when they compute in float16.
            kwargs["dtype"] = directions[0].student.dtype_policy.name
        super().__init__(**kwargs)
        self.ignore_label = ignore_label
        if not directions:
            raise ValueError("a distiller needs at least one direction")
        self.directions = list(directions)
        self.num_classes = num_classes
        self.settings = settings
        self.projection_mode = projection
        self.direction_modules = []  # one dict of layers per direction
        for direction in self.directions:
            if self.uses_teacher and direction.teacher is None:
                raise ValueError(f"method {method} needs a teacher for {direction.name!r}")
            if direction.teacher is not None:
                # Every sublayer explicitly: a reloaded teacher's layers keep the saved
                # flag while the layers they create inside (a head's Dense) do not.
                for layer in direction.teacher._flatten_layers():
                    layer.trainable = self.trains_teacher
            modules = {}
            if self.uses_projection:
                projection_layer = build_projection(
                    feature_size(direction.student),
                    feature_size(direction.teacher),
                    projection,
                    name=f"{direction.name}_projection",
                )
                if projection_layer is not None:
                    modules["projection"] = projection_layer
            modules.update(self.build_modules(direction))
            self.direction_modules.append(modules)
        # Keras tracks layers held in lists/dicts of attributes; keep the students
        # and teachers as attributes too so their weights are saved with ours.
        self.students = [d.student for d in self.directions]
        self.teachers = [d.teacher for d in self.directions if d.teacher is not None]
        self._build_trackers()
        self.training_phase = False
        self.built = True  # every sub-layer is built above; no data needed to build

    # ------------------------------------------------------------------ method API

    def build_modules(self, direction: Direction) -> dict:
        """Extra layers of the method for one direction, built. Default: none."""
        return {}

    def term_names(self) -> tuple[str, ...]:
        """Names of the terms `loss_terms` returns (one metric is made for each)."""
        raise NotImplementedError("abstract: each method names its loss terms")

    def loss_terms(self, modules: dict, student_out: dict, teacher_out: Optional[dict], labels):
        """Per-sample loss terms and extra logits for one direction.

        Args:
            modules: this direction's layers from `build_modules` (and
                ``"projection"`` when one is used).
            student_out: ``{"features", "logits"}`` of the student.
            teacher_out: same for the teacher (gradient stopped unless
                `trains_teacher`), or None.
            labels: integer labels, ``(batch,)`` or ``(batch, H, W)`` for
                segmentation (use `task_cross_entropy`, which skips ignored pixels).

        Returns:
            ``(terms, logits)``: ``terms`` maps a term name to ``(weight,
            per_sample_values)`` (per-pixel ``(batch, H, W)`` values are averaged
            like per-sample ones); ``logits`` maps names in `extra_accuracy_heads`
            to logits (dense ones at any resolution: they are resized to the labels).
        """
        raise NotImplementedError("abstract: each method defines its loss terms")

    # ------------------------------------------------------------------ plumbing

    def project(self, modules: dict, student_features):
        """Student features mapped to the teacher's size (identity when equal)."""
        projection = modules.get("projection")
        return student_features if projection is None else projection(student_features)

    def _prefix(self, direction: Direction) -> str:
        return f"{direction.name}_" if len(self.directions) > 1 else ""

    @staticmethod
    def is_dense(direction: Direction) -> bool:
        """Whether ``direction``'s student predicts per pixel (segmentation)."""
        return len(direction.student.output["logits"].shape) > 2

    def require_sample_logits(self, direction: Direction, method: str, why: str) -> None:
        """Refuses a segmentation ``direction`` for a method defined on one class
        prediction per sample (logit methods); ``why`` says what the method needs."""
        if self.is_dense(direction):
            raise ValueError(
                f"distill.method '{method}' needs (batch, classes) logits, but student "
                f"{direction.student.name!r} predicts per pixel; {why}. "
                "Choose a feature method (feat, fdcmkd) for dense tasks"
            )

    def task_metric(self, direction: Direction) -> str:
        """``miou`` (mean IoU) for a segmentation direction, ``acc`` otherwise."""
        return "miou" if self.is_dense(direction) else "acc"

    def accuracy_metric(self, direction: Direction) -> str:
        """Name of the task score of ``direction``'s own student head: ``acc`` (or
        ``<name>_acc``) for classification, ``miou`` (or ``<name>_miou``) for
        segmentation. Keras logs it as ``val_<name>`` on validation data, which
        selects checkpoints."""
        return f"{self._prefix(direction)}{self.task_metric(direction)}"

    def task_cross_entropy(self, labels, logits):
        """Per-sample CE of any head; dense logits skip ``ignore_label`` pixels and
        are resized to the label size (`fdkd_tf.losses.cross_entropy`)."""
        dense = len(logits.shape) > 2
        return cross_entropy(labels, logits, self.ignore_label if dense else None)

    def _build_trackers(self):
        term_trackers, accuracy_trackers = [], []
        for direction in self.directions:
            prefix = self._prefix(direction)
            for term in self.term_names():
                tracker = keras.metrics.Mean(name=prefix + term)
                tracker._direction = "down"  # a loss term: lower is better (monitor callbacks)
                term_trackers.append(tracker)
            metric = self.task_metric(direction)
            for head in ("",) + tuple(f"{h}_" for h in self.extra_accuracy_heads):
                name = f"{prefix}{head}{metric}"
                if metric == "miou":  # a confusion matrix summed over replicas when read
                    tracker = keras.metrics.MeanIoU(
                        self.num_classes, name=name, ignore_class=self.ignore_label, sparse_y_pred=False
                    )
                    tracker._direction = "up"
                else:
                    tracker = keras.metrics.SparseCategoricalAccuracy(name=name)
                accuracy_trackers.append(tracker)
        # Held only by the two groups: Keras would list (and reset) a metric held twice.
        self.method_terms = MetricGroup(term_trackers, name="method_terms")
        self.head_scores = MetricGroup(accuracy_trackers, name="head_scores")

    @property
    def method_metrics(self) -> list:
        """The method's own metrics, one per term and per head, each logged under its
        name (Keras' `metrics` lists them as their two groups)."""
        return [*self.method_terms.metrics, *self.head_scores.metrics]

    @property
    def _term_trackers(self) -> dict:
        return {tracker.name: tracker for tracker in self.method_terms.metrics}

    @property
    def _accuracy_trackers(self) -> dict:
        return {tracker.name: tracker for tracker in self.head_scores.metrics}

    def call(self, inputs, training=False):
        """The forward pass of every direction.

        Args:
            inputs: the paired input dict (``{"teacher": ..., "student": ...}``),
                optionally with `CACHED_TEACHER_KEY`: precomputed outputs of frozen
                teachers, which are then not run.
            training: the students' phase (teachers run in inference mode unless
                the method trains them).

        Returns:
            ``{direction name: {"student": outputs, "teacher": outputs}}``, each
            a classifier's output dict (``"teacher"`` absent for ``none``); the
            frozen teacher's outputs carry no gradient.
        """
        outputs = {}
        cached = inputs.get(CACHED_TEACHER_KEY, {}) if isinstance(inputs, dict) else {}
        for direction in self.directions:
            entry = {"student": direction.student(inputs[direction.student_input], training=training)}
            if self.uses_teacher and direction.name in cached and not self.trains_teacher:
                entry["teacher"] = {key: ops.stop_gradient(value) for key, value in cached[direction.name].items()}
            elif self.uses_teacher:
                teacher_out = direction.teacher(inputs[direction.teacher_input], training=training and self.trains_teacher)
                if not self.trains_teacher:
                    teacher_out = {key: ops.stop_gradient(value) for key, value in teacher_out.items()}
                entry["teacher"] = teacher_out
            outputs[direction.name] = entry
        return outputs

    def terms_from_outputs(self, outputs, labels, training: bool):
        """The method's terms for the forward pass ``outputs`` of `call`.

        Returns:
            ``(total, terms, logits)``: the weighted sum of the per-replica batch
            means, ``{metric name: batch mean}`` and ``{accuracy name: logits}``.
        """
        # Methods whose own layers depend on the phase (BatchNorm, running
        # statistics) read it in `loss_terms`; a Python bool at trace time.
        self.training_phase = training
        total = ops.zeros((), "float32")
        terms, logits = {}, {}
        for direction, modules in zip(self.directions, self.direction_modules):
            prefix = self._prefix(direction)
            student_out = outputs[direction.name]["student"]
            teacher_out = outputs[direction.name].get("teacher")
            direction_terms, extra_logits = self.loss_terms(modules, student_out, teacher_out, labels)
            for name, (weight, per_sample) in direction_terms.items():
                value = ops.mean(ops.cast(per_sample, "float32"))
                terms[prefix + name] = value
                if weight:
                    total = total + weight * value
            logits[self.accuracy_metric(direction)] = student_out["logits"]
            for head, head_logits in extra_logits.items():
                logits[f"{prefix}{head}_{self.task_metric(direction)}"] = head_logits
        return total, terms, logits

    def compute_terms(self, inputs, labels, training: bool):
        """Forward pass and terms of one batch (`call` + `terms_from_outputs`)."""
        return self.terms_from_outputs(self(inputs, training=training), labels, training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The method's loss for Keras' trainers: the weighted sum of its terms.

        Updates the term and head metrics, adds the layers' own losses
        (``self.losses``, e.g. regularizers) as Keras does, and divides by the
        replicas in sync (see the module docstring). The loss scale of a
        `LossScaleOptimizer` is applied by the caller (`train_step`, or Keras'
        JAX / torch step), as for any Keras model.

        Raises:
            ValueError: for sample weights, which no method defines.
        """
        if sample_weight is not None:
            raise ValueError(
                "distillers take no sample weights; give the dataset (inputs, labels) pairs"
            )
        if y_pred is None:
            y_pred = self(x, training=training)
        total, terms, logits = self.terms_from_outputs(y_pred, y, training)
        batch = ops.shape(y)[0]
        for name, value in terms.items():
            self._term_trackers[name].update_state(value, sample_weight=batch)
        for name, head_logits in logits.items():
            self._accuracy_trackers[name].update_state(y, resize_to_labels(head_logits, y))
        for loss in self.losses:
            total = total + ops.sum(ops.cast(loss, "float32"))
        replicas = replicas_in_sync()
        return total / replicas if replicas > 1 else total

    def student_logits(self, outputs):
        """The student logits in `call`'s ``outputs``: one tensor for one direction,
        ``{direction name: logits}`` for two."""
        logits = {name: entry["student"]["logits"] for name, entry in outputs.items()}
        return next(iter(logits.values())) if len(logits) == 1 else logits

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras' compiled metrics on the students' own logits (resized to dense
        labels); with two directions each direction's logits are scored against
        the labels under its name. Returns every metric's result."""
        logits = self.student_logits(y_pred)
        if isinstance(logits, dict):
            targets = {name: y for name in logits}
            logits = {name: resize_to_labels(value, y) for name, value in logits.items()}
        else:
            targets, logits = y, resize_to_labels(logits, y)
        return as_worker_logs(super().compute_metrics(x, targets, logits, sample_weight))

    if keras.backend.backend() == "tensorflow":  # Keras' JAX and torch steps take other arguments

        def train_step(self, data):
            """One optimisation step on the TensorFlow backend.

            This is Keras 3's own TensorFlow ``train_step``, in the same order: the
            forward pass (`call`) and `compute_loss` under a gradient tape, the
            ``loss`` tracker, ``optimizer.scale_loss`` (the `LossScaleOptimizer` of
            ``mixed_float16``), gradients of the trainable weights, and
            ``optimizer.apply_gradients``, which accumulates over
            ``gradient_accumulation_steps``. What it adds: under a
            `LossScaleOptimizer` it logs the current scale as ``loss_scale``, so a run
            whose float16 activations keep overflowing (the scale halving step after
            step, each such step skipped) shows it in the logs and TensorBoard instead
            of silently training less. On JAX and torch, Keras' own step calls the
            same `compute_loss`.
            """
            import tensorflow as tf  # train_step is TensorFlow-only; Keras' trainers serve the others

            inputs, labels = data[0], data[1]
            with tf.GradientTape() as tape:
                outputs = self(inputs, training=True)
                loss = self.compute_loss(inputs, labels, outputs, training=True)
                replicas = replicas_in_sync()
                self._loss_tracker.update_state(loss * replicas if replicas > 1 else loss, sample_weight=tf.shape(labels)[0])
                scaled = self.optimizer.scale_loss(loss)
            variables = self.trainable_weights
            gradients = tape.gradient(scaled, variables)
            self.optimizer.apply_gradients(zip(gradients, variables))
            logs = self.compute_metrics(inputs, labels, outputs)
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                logs["loss_scale"] = ops.convert_to_tensor(self.optimizer.dynamic_scale)
            return as_worker_logs(logs)

        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            """Builds the model from the dataset's element spec, not from a drawn batch.

            Keras' TensorFlow trainer, under a distribution strategy, draws one batch
            and reduces it across replicas only to learn the input structure;
            `MultiWorkerMirroredStrategy` cannot reduce the paired dict inputs (it
            fails before the first epoch), and the drawn batch is wasted. The spec
            holds the same structure, shapes and dtypes.
            """
            adapter = getattr(iterator, "data_adapter", None)
            if data_batch is None and adapter is not None and self._distribute_strategy is not None:
                with self.distribute_strategy.scope():
                    self._symbolic_build(data_batch=adapter.get_tf_dataset().element_spec)
                return
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, **kwargs):
        """`keras.Model.compile`; the loss is the method's, so ``loss`` and
        ``loss_weights`` must stay None (set the method's weights instead).

        Raises:
            ValueError: for a loss; under a multi-replica strategy, for an optimizer
                with ``gradient_accumulation_steps`` (Keras 3 cannot synchronise its
                conditional update there) and for ``jit_compile=True`` (XLA cannot
                place mirrored variables; Keras' ``auto`` keeps it off there too).
                These two are the training features that do not hold under
                `tf.distribute`.
        """
        if loss is not None or loss_weights is not None:
            raise ValueError(
                f"{type(self).__name__}: the loss of a distiller is its method's terms; "
                "do not pass loss/loss_weights to compile (set the method's weights, e.g. ce_weight)"
            )
        accumulation = getattr(optimizer, "gradient_accumulation_steps", None)
        replicas = replicas_in_sync()
        if accumulation and replicas > 1:
            raise ValueError(
                f"gradient accumulation (train.gradient_accumulation_steps={accumulation}) cannot run under a "
                f"tf.distribute strategy with {replicas} replicas: Keras 3 applies accumulated gradients inside "
                "a tf.cond that MirroredStrategy cannot synchronise (keras-team/keras#20582); "
                "raise data.batch_size instead, or train on one device"
            )
        if kwargs.get("jit_compile") is True and replicas > 1:
            raise ValueError(
                f"train.jit_compile: true cannot run under a tf.distribute strategy with {replicas} replicas "
                "(XLA fails to place the mirrored variables: tensorflow.org/xla/known_issues); "
                "set train.jit_compile to auto (Keras keeps XLA off under a strategy) or train on one device"
            )
        metrics = kwargs.get("metrics")
        if len(self.directions) > 1 and isinstance(metrics, (list, tuple)):
            # One copy per direction, logged as <direction>_<metric> like the method's own.
            kwargs["metrics"] = {d.name: [_copy_metric(m) for m in metrics] for d in self.directions}
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded distiller from its saved compile arguments and builds
        the optimizer, so that its saved state (momentum, loss scale) loads too."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def cross_entropy_term(self, labels, student_out, weight: float = 1.0):
        """The student's own task term, shared by every method: ``{"ce": ...}``."""
        return {"ce": (weight, self.task_cross_entropy(labels, student_out["logits"]))}

    # ------------------------------------------------------------------ serialization

    def get_config(self):
        """Everything `__init__` takes: the directions with their (serialized)
        models, the settings as a mapping, projection and ignore label."""

        def serialize(model):
            return None if model is None else keras.saving.serialize_keras_object(model)

        return {
            "name": self.name,
            "trainable": self.trainable,
            "directions": [
                {
                    "name": d.name,
                    "student_input": d.student_input,
                    "student": serialize(d.student),
                    "teacher_input": d.teacher_input,
                    "teacher": serialize(d.teacher),
                }
                for d in self.directions
            ],
            "num_classes": self.num_classes,
            "settings": None if self.settings is None else dataclasses.asdict(self.settings),
            "projection": self.projection_mode,
            "ignore_label": self.ignore_label,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)

        def deserialize(model_config):
            return None if model_config is None else keras.saving.deserialize_keras_object(model_config)

        directions = [
            Direction(
                d["name"], d["student_input"], deserialize(d["student"]), d["teacher_input"], deserialize(d["teacher"])
            )
            for d in config.pop("directions")
        ]
        return cls(directions, **config)
