"""``c2kd``: customized crossmodal knowledge distillation (Huo, Xu, Guo, Wang and
Guo, CVPR 2024, "C2KD: Bridging the Modality Gap for Cross-Modal Knowledge
Distillation"), the paper's cross-modal baseline.

Both models train (``trains_teacher``): the teacher starts from its stage-1
checkpoint and keeps learning, in training mode, with the same optimizer. Each
model gets a *proxy* head on its ``hint`` (ResNet ``layer3``): average pool ->
1x1 conv (a bias-free Dense on the pooled vector) + BN + LeakyReLU(0.1) ->
Linear(256, classes). Per side, with ``own`` the model's logits, ``proxy`` its
proxy's and ``other`` the other model's proxy, every term at temperature 1 and
weight 1 in the original:

    ce       CE(own)
    proxy    KL(own || proxy)        own detached: the proxy learns the model
    self     KL(proxy || own)        proxy detached: the model learns its proxy
    ntkd     gate * KL~(other || proxy)   non-target KL (true-class logit set
                                          to 0), other detached

``gate`` is the on-the-fly selection: 1 for the samples whose two proxies rank
the classes alike (Kendall tau > ``kendall_threshold``, 0), computed in the graph
(`fdkd_tf.losses.kendall_tau`). The teacher's terms are logged as
``teacher_<term>``; ``selected`` (weight 0, not in the loss) logs the fraction of
selected samples and ``teacher_acc`` the co-trained teacher's accuracy. The
non-target term is averaged over the whole batch, as in the original.

``proxy_batchnorm: false`` drops the proxies' BatchNorm. With it, BatchNorm
normalizes each replica's batch separately under tf.distribute (as every Keras
BatchNorm does), so a multi-replica step differs slightly from one device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from fdkd_tf.distillers.base import Distiller
from fdkd_tf.losses import cross_entropy, kd_loss, on_the_fly_selection, selected_non_target_kl
from fdkd_tf.models.classification_head import xavier_normal
from fdkd_tf.models.resnet import kaiming_fan_out
from fdkd_tf.settings import check, positive, positive_integer, weight


@dataclass
class C2KDConfig:
    """C2KD (Huo et al., 2024): proxies on the hint, both models learn, gated NTKD.

    Every weight applies to both sides (student and teacher); all are 1 and the
    temperature is 1 in the original. ``proxy_batchnorm: false`` drops the
    proxies' BatchNorm (a BN-free variant, exact under tf.distribute).
    """

    ce_weight: float = weight(1.0)
    proxy_weight: float = weight(1.0)  # KL(own || proxy) trains the proxy
    self_weight: float = weight(1.0)  # KL(proxy || own) trains the model
    ntkd_weight: float = weight(1.0)
    temperature: float = positive(1.0)
    kendall_threshold: float = field(default=0.0, metadata=check(lambda v: -1.0 <= v < 1.0, "in [-1, 1)"))  # tau a sample must exceed
    proxy_units: int = positive_integer(256)
    proxy_batchnorm: bool = True


def build_proxy(hint_shape: tuple, num_classes: int, units: int, batchnorm: bool, name: str) -> keras.Model:
    """C2KD's proxy classifier on a hint map ``(batch, ..., C)`` or vector ``(batch, C)``.

    Args:
        hint_shape: shape of the hint, with the batch axis.
        num_classes: number of logits.
        units: width of the 1x1 conv (256 in the original, ``layer3``'s width).
        batchnorm: whether the 1x1 conv is followed by BatchNorm (the original).
        name: name of the returned model.

    Returns:
        A functional `keras.Model` from the hint to ``(batch, num_classes)`` logits.
    """
    inputs = keras.Input(shape=tuple(hint_shape[1:]), name=f"{name}_input")
    x = inputs
    if len(hint_shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)  # (batch, C)
    elif len(hint_shape) == 3:
        x = keras.layers.GlobalAveragePooling1D(name=f"{name}_pool")(x)
    elif len(hint_shape) != 2:
        raise ValueError(f"c2kd proxies take a (batch, C), (batch, L, C) or (batch, H, W, C) hint, got shape {hint_shape}")
    x = keras.layers.Dense(units, use_bias=False, kernel_initializer=kaiming_fan_out(), name=f"{name}_conv")(x)
    if batchnorm:
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    x = keras.layers.LeakyReLU(negative_slope=0.1, name=f"{name}_relu")(x)
    logits = keras.layers.Dense(num_classes, kernel_initializer=xavier_normal(), name=f"{name}_fc")(x)
    return keras.Model(inputs, logits, name=name)


@keras.saving.register_keras_serializable(package="fdkd_tf")
class CustomizedCrossModalDistillation(Distiller):
    """C2KD with both models learning (config ``distill.c2kd``)."""

    method = "c2kd"
    settings_class = C2KDConfig

    trains_teacher = True
    extra_accuracy_heads = ("teacher",)

    def term_names(self):
        return (
            "ce", "proxy", "self", "ntkd",
            "teacher_ce", "teacher_proxy", "teacher_self", "teacher_ntkd",
            "selected",
        )

    def build_modules(self, direction):
        settings = self.settings
        return {
            f"{side}_proxy": build_proxy(
                tuple(model.output["hint"].shape),
                self.num_classes,
                settings.proxy_units,
                settings.proxy_batchnorm,
                name=f"{direction.name}_{side}_proxy",
            )
            for side, model in (("student", direction.student), ("teacher", direction.teacher))
        }

    def _side_terms(self, labels, own_logits, proxy_logits, other_proxy_logits, selection, prefix: str):
        settings = self.settings
        temperature = settings.temperature
        # kd_loss(learner, target, T) = T^2 KL(softmax(target/T) || softmax(learner/T)), target detached.
        return {
            f"{prefix}ce": (settings.ce_weight, cross_entropy(labels, own_logits)),
            f"{prefix}proxy": (settings.proxy_weight, kd_loss(proxy_logits, own_logits, temperature)),
            f"{prefix}self": (settings.self_weight, kd_loss(own_logits, proxy_logits, temperature)),
            f"{prefix}ntkd": (
                settings.ntkd_weight,
                selected_non_target_kl(proxy_logits, other_proxy_logits, labels, selection, temperature),
            ),
        }

    def loss_terms(self, modules, student_out, teacher_out, labels):
        training = getattr(self, "training_phase", False)
        student_proxy = modules["student_proxy"](student_out["hint"], training=training)  # (batch, classes)
        teacher_proxy = modules["teacher_proxy"](teacher_out["hint"], training=training)
        selection = on_the_fly_selection(teacher_proxy, student_proxy, self.settings.kendall_threshold)  # (batch,)
        terms = self._side_terms(labels, student_out["logits"], student_proxy, teacher_proxy, selection, "")
        terms.update(self._side_terms(labels, teacher_out["logits"], teacher_proxy, student_proxy, selection, "teacher_"))
        terms["selected"] = (0.0, selection)
        return terms, {"teacher": teacher_out["logits"]}
