"""The distiller base: frozen teacher(s), student(s), method heads, custom steps.

A method subclass says only what differs: the extra layers it needs per direction
(`build_modules`) and its per-sample loss terms (`loss_terms`). The base owns the
rest: the teacher in inference mode with no gradient, the weighted sum of terms,
replica scaling under `tf.distribute`, and one metric per term and per head, so the
training loop never branches on the method.

Under a `tf.distribute` strategy each replica sees ``global_batch / replicas``
samples and the optimizer *sums* gradients across replicas; the base therefore
divides the replica's mean loss by the number of replicas, which makes a step on
R replicas equal to a step on one device with the same global batch (the same
scaling `keras.losses.Loss` applies). Logged terms are unscaled means, weighted by
each replica's batch size.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import keras
import tensorflow as tf

from fdkd_tf.losses import cross_entropy
from fdkd_tf.losses.classification import resize_to_labels


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


class Distiller(keras.Model):
    """Base `keras.Model` for every distillation method.

    Args:
        directions: one `Direction` (or two for ``direction: both``).
        num_classes: number of classes of the task.
        settings: the method's config section (a dataclass), or None.
        projection: ``auto | linear | none``, see `build_projection`.
        ignore_label: label of pixels without a class in dense (segmentation)
            tasks (``data.ignore_label``); they count in no loss and no metric.
            Ignored for classification.
        **kwargs: `keras.Model` arguments.

    The task is read from the students: ``logits`` of rank 4 ``(batch, H, W,
    classes)`` make a segmentation direction, scored by mean IoU (``miou``)
    instead of accuracy (``acc``).

    Subclasses set ``uses_teacher`` / ``uses_projection`` /
    ``extra_accuracy_heads`` and implement `term_names`, `loss_terms` and, when
    they add layers, `build_modules`.
    """

    #: Whether the method needs a teacher (``none`` does not).
    uses_teacher: bool = True
    #: Whether student features are projected to the teacher's feature size.
    uses_projection: bool = False
    #: Whether the teacher keeps learning (DML, C2KD): then it runs in training
    #: mode, receives gradients and its weights are updated with the student's.
    trains_teacher: bool = False
    #: Names of the heads whose accuracy is reported besides the student's own.
    extra_accuracy_heads: tuple[str, ...] = ()

    def __init__(self, directions, num_classes: int, settings: Any = None, projection: str = "auto", ignore_label: Optional[int] = None, **kwargs):
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
                raise ValueError(f"method {type(self).__name__} needs a teacher for {direction.name!r}")
            if direction.teacher is not None:
                direction.teacher.trainable = self.trains_teacher
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
        dense = logits.shape.rank > 2
        return cross_entropy(labels, logits, self.ignore_label if dense else None)

    def _build_trackers(self):
        self._loss_tracker = keras.metrics.Mean(name="loss")
        self._term_trackers = {}
        self._accuracy_trackers = {}
        for direction in self.directions:
            prefix = self._prefix(direction)
            for term in self.term_names():
                self._term_trackers[prefix + term] = keras.metrics.Mean(name=prefix + term)
            metric = self.task_metric(direction)
            for head in ("",) + tuple(f"{h}_" for h in self.extra_accuracy_heads):
                name = f"{prefix}{head}{metric}"
                if metric == "miou":  # a confusion matrix summed over replicas when read
                    self._accuracy_trackers[name] = keras.metrics.MeanIoU(
                        self.num_classes, name=name, ignore_class=self.ignore_label, sparse_y_pred=False
                    )
                else:
                    self._accuracy_trackers[name] = keras.metrics.SparseCategoricalAccuracy(name=name)

    @property
    def metrics(self):
        return [self._loss_tracker, *self._term_trackers.values(), *self._accuracy_trackers.values()]

    def call(self, inputs, training=False):
        """Student logits per direction: ``{direction.name: logits}``."""
        return {
            direction.name: direction.student(inputs[direction.student_input], training=training)["logits"]
            for direction in self.directions
        }

    def compute_terms(self, inputs, labels, training: bool):
        """Forward pass of every direction.

        Returns:
            ``(total, terms, logits)``: the weighted sum of the per-replica batch
            means, ``{metric name: batch mean}`` and ``{accuracy name: logits}``.
        """
        # Methods whose own layers depend on the phase (BatchNorm, running
        # statistics) read it in `loss_terms`; a Python bool at trace time.
        self.training_phase = training
        total = 0.0
        terms, logits = {}, {}
        for direction, modules in zip(self.directions, self.direction_modules):
            prefix = self._prefix(direction)
            student_out = direction.student(inputs[direction.student_input], training=training)
            teacher_out = None
            if self.uses_teacher:
                teacher_out = direction.teacher(inputs[direction.teacher_input], training=training and self.trains_teacher)
                if not self.trains_teacher:
                    teacher_out = {key: tf.stop_gradient(value) for key, value in teacher_out.items()}
            direction_terms, extra_logits = self.loss_terms(modules, student_out, teacher_out, labels)
            for name, (weight, per_sample) in direction_terms.items():
                value = tf.reduce_mean(per_sample)
                terms[prefix + name] = value
                if weight:
                    total = total + weight * value
            logits[self.accuracy_metric(direction)] = student_out["logits"]
            for head, head_logits in extra_logits.items():
                logits[f"{prefix}{head}_{self.task_metric(direction)}"] = head_logits
        return total, terms, logits

    def _update_metrics(self, total, terms, logits, labels):
        batch = tf.shape(labels)[0]
        self._loss_tracker.update_state(total, sample_weight=batch)
        for name, value in terms.items():
            self._term_trackers[name].update_state(value, sample_weight=batch)
        for name, head_logits in logits.items():
            self._accuracy_trackers[name].update_state(labels, resize_to_labels(head_logits, labels))
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        inputs, labels = data[0], data[1]
        with tf.GradientTape() as tape:
            total, terms, logits = self.compute_terms(inputs, labels, training=True)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = total / tf.cast(replicas, total.dtype) if replicas > 1 else total
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_metrics(total, terms, logits, labels)

    def test_step(self, data):
        inputs, labels = data[0], data[1]
        total, terms, logits = self.compute_terms(inputs, labels, training=False)
        return self._update_metrics(total, terms, logits, labels)

    def cross_entropy_term(self, labels, student_out, weight: float = 1.0):
        """The student's own task term, shared by every method: ``{"ce": ...}``."""
        return {"ce": (weight, self.task_cross_entropy(labels, student_out["logits"]))}
