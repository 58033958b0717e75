"""The ``c2kd`` distiller: proxies on the hints, both models learning, the
non-target KL gated by the Kendall-tau selection (checked with scipy)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax
from scipy.stats import entropy, kendalltau

from distiller_helpers import CLASSES, batch_dataset, make_distiller, weights_of
from feature_baseline_helpers import image_dataset, make_image_distiller
from fdkd_tf.config import config_from_dict

TERMS = ("ce", "proxy", "self", "ntkd", "teacher_ce", "teacher_proxy", "teacher_self", "teacher_ntkd", "selected")


def kl(target_logits, learner_logits):
    return entropy(softmax(target_logits, axis=1), softmax(learner_logits, axis=1), axis=1)


def zero_true_class(logits, labels):
    logits = logits.copy()
    logits[np.arange(len(labels)), labels] = 0.0
    return logits


def test_terms_match_scipy():
    distiller = make_distiller("c2kd", teacher_dim=16, student_dim=8)
    inputs, labels = next(iter(batch_dataset(batch=16)))
    total, terms, logits = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == TERMS
    modules = distiller.direction_modules[0]
    student_out = distiller.students[0](inputs["student"])
    teacher_out = distiller.teachers[0](inputs["teacher"])
    f64 = lambda t: t.numpy().astype(np.float64)  # noqa: E731
    own_s, own_t = f64(student_out["logits"]), f64(teacher_out["logits"])
    proxy_s, proxy_t = f64(modules["student_proxy"](student_out["hint"])), f64(modules["teacher_proxy"](teacher_out["hint"]))
    labels = labels.numpy()
    tau = np.array([kendalltau(a, b)[0] for a, b in zip(proxy_t, proxy_s)])
    gate = (tau > 0).astype(np.float64)
    ce = lambda z: -np.log(softmax(z, axis=1)[np.arange(len(labels)), labels])  # noqa: E731
    expected = {
        "ce": ce(own_s).mean(),
        "proxy": kl(own_s, proxy_s).mean(),
        "self": kl(proxy_s, own_s).mean(),
        "ntkd": (gate * kl(zero_true_class(proxy_t, labels), zero_true_class(proxy_s, labels))).mean(),
        "teacher_ce": ce(own_t).mean(),
        "teacher_proxy": kl(own_t, proxy_t).mean(),
        "teacher_self": kl(proxy_t, own_t).mean(),
        "teacher_ntkd": (gate * kl(zero_true_class(proxy_s, labels), zero_true_class(proxy_t, labels))).mean(),
        "selected": gate.mean(),
    }
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-4, abs=1e-7), name
    assert float(total) == pytest.approx(sum(v for k, v in expected.items() if k != "selected"), rel=1e-4)
    np.testing.assert_allclose(logits["teacher_acc"].numpy(), own_t, rtol=1e-6)


def test_each_term_trains_only_its_own_side():
    distiller = make_distiller("c2kd", 16, 8)
    modules = distiller.direction_modules[0]
    student, teacher = distiller.students[0], distiller.teachers[0]
    groups = {
        "student": student.trainable_variables,
        "teacher": teacher.trainable_variables,
        "student_proxy": modules["student_proxy"].trainable_variables,
        "teacher_proxy": modules["teacher_proxy"].trainable_variables,
    }
    assert groups["teacher"], "the C2KD teacher must be trainable"
    inputs, labels = next(iter(batch_dataset(batch=16)))
    with tf.GradientTape(persistent=True) as tape:
        _, terms, _ = distiller.compute_terms(inputs, labels, training=True)

    def learners(term):
        gradients = {name: tape.gradient(terms[term], variables) for name, variables in groups.items()}
        return {name for name, grads in gradients.items() if any(g is not None and np.any(g.numpy() != 0) for g in grads)}

    assert float(terms["selected"]) > 0, "the fixed batch must select some samples"
    # Terms on a proxy reach the model below the hint too (the proxy is not
    # detached from its own backbone), never the other side.
    assert learners("ce") == {"student"}
    assert learners("proxy") == {"student_proxy", "student"}
    assert learners("self") == {"student"}
    assert learners("ntkd") == {"student_proxy", "student"}
    assert learners("teacher_ce") == {"teacher"}
    assert learners("teacher_proxy") == {"teacher_proxy", "teacher"}
    assert learners("teacher_self") == {"teacher"}
    assert learners("teacher_ntkd") == {"teacher_proxy", "teacher"}
    # ... and only the layers up to the hint: the student's feature layer and head
    # learn from its own logits alone.
    above_hint = student.get_layer("features").trainable_variables + student.get_layer("logits").trainable_variables
    for term in ("proxy", "ntkd"):
        assert all(g is None for g in tape.gradient(terms[term], above_hint)), term


def _scipy_gate(distiller, inputs, threshold):
    modules = distiller.direction_modules[0]
    proxy_s = modules["student_proxy"](distiller.students[0](inputs["student"])["hint"]).numpy()
    proxy_t = modules["teacher_proxy"](distiller.teachers[0](inputs["teacher"])["hint"]).numpy()
    return np.array([kendalltau(a, b)[0] > threshold for a, b in zip(proxy_t, proxy_s)], dtype=np.float64)


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_selection_follows_scipy_kendall_tau(threshold):
    distiller = make_distiller("c2kd", 16, 8, kendall_threshold=threshold)
    inputs, labels = next(iter(batch_dataset(batch=16, seed=3)))
    _, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    gate = _scipy_gate(distiller, inputs, threshold)
    assert float(terms["selected"]) == pytest.approx(gate.mean())
    if threshold > 0:
        assert gate.mean() < _scipy_gate(distiller, inputs, 0.0).mean()


@pytest.mark.parametrize("student_arch, batchnorm", [("mlp", True), ("small_cnn", True), ("small_cnn", False)])
def test_fit_step_updates_both_models_and_proxies(student_arch, batchnorm):
    distiller = make_image_distiller("c2kd", student_arch, proxy_batchnorm=batchnorm, proxy_units=16)
    modules = distiller.direction_modules[0]
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in modules["student_proxy"].layers) == batchnorm
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    tracked = [distiller.students[0], distiller.teachers[0], modules["student_proxy"], modules["teacher_proxy"]]
    before = [weights_of(model) for model in tracked]
    history = distiller.fit(image_dataset(student_arch, repeat=2), epochs=1, verbose=0)
    assert set(TERMS) | {"loss", "acc", "teacher_acc"} <= set(history.history)
    for old, model in zip(before, tracked):
        assert any(not np.allclose(b, a) for b, a in zip(old, weights_of(model))), model.name
    assert distiller(next(iter(image_dataset(student_arch)))[0])["b"]["student"]["logits"].shape == (8, CLASSES)


def test_config_defaults_are_the_papers():
    settings = config_from_dict({"distill": {"method": "c2kd"}}).distill.c2kd
    assert (settings.ce_weight, settings.proxy_weight, settings.self_weight, settings.ntkd_weight) == (1.0, 1.0, 1.0, 1.0)
    assert (settings.temperature, settings.kendall_threshold, settings.proxy_units, settings.proxy_batchnorm) == (1.0, 0.0, 256, True)


def test_threshold_outside_tau_range_is_a_config_error():
    from fdkd_tf.config import ConfigError

    with pytest.raises(ConfigError, match="distill.c2kd.kendall_threshold"):
        config_from_dict({"distill": {"method": "c2kd", "c2kd": {"kendall_threshold": 1.5}}})
