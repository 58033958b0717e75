"""The ``dml`` distiller: both models learn, each only from its own two terms."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.special import softmax
from scipy.stats import entropy

from distiller_helpers import CLASSES, batch_dataset, make_distiller, weights_of
from fdkd_tf.config import config_from_dict


def numpy_ce(logits, labels):
    return -np.log(softmax(logits.astype(np.float64), axis=1)[np.arange(len(labels)), labels])


def test_terms_match_numpy_kl_in_both_directions():
    distiller = make_distiller("dml", kl_weight=2.0, ce_weight=0.5)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, logits = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == ("ce", "kl", "teacher_ce", "teacher_kl")
    student = distiller.students[0](inputs["student"])["logits"].numpy()
    teacher = distiller.teachers[0](inputs["teacher"])["logits"].numpy()
    student_probs, teacher_probs = softmax(student.astype(np.float64), 1), softmax(teacher.astype(np.float64), 1)
    labels = labels.numpy()
    expected = {
        "ce": numpy_ce(student, labels).mean(),
        "kl": entropy(teacher_probs, student_probs, axis=1).mean(),  # KL(p_t || p_s)
        "teacher_ce": numpy_ce(teacher, labels).mean(),
        "teacher_kl": entropy(student_probs, teacher_probs, axis=1).mean(),  # KL(p_s || p_t)
    }
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-4), name
    weighted = 0.5 * (expected["ce"] + expected["teacher_ce"]) + 2.0 * (expected["kl"] + expected["teacher_kl"])
    assert float(total) == pytest.approx(weighted, rel=1e-4)
    np.testing.assert_allclose(logits["teacher_acc"].numpy(), teacher, rtol=1e-6)


def test_each_model_learns_only_from_its_own_terms():
    distiller = make_distiller("dml")
    student_variables = distiller.students[0].trainable_variables
    teacher_variables = distiller.teachers[0].trainable_variables
    assert teacher_variables, "the DML teacher must be trainable"
    inputs, labels = next(iter(batch_dataset()))
    with tf.GradientTape(persistent=True) as tape:
        _, terms, _ = distiller.compute_terms(inputs, labels, training=True)
        student_side = terms["ce"] + terms["kl"]
        teacher_side = terms["teacher_ce"] + terms["teacher_kl"]
    for gradient in tape.gradient(teacher_side, student_variables):
        assert gradient is None or np.all(gradient.numpy() == 0.0)
    for gradient in tape.gradient(student_side, teacher_variables):
        assert gradient is None or np.all(gradient.numpy() == 0.0)
    assert any(g is not None and np.any(g.numpy() != 0) for g in tape.gradient(terms["kl"], student_variables))
    assert any(g is not None and np.any(g.numpy() != 0) for g in tape.gradient(terms["teacher_kl"], teacher_variables))


def test_one_fit_updates_both_models_and_reports_teacher_accuracy():
    distiller = make_distiller("dml")
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    teacher_ids = {id(v) for v in distiller.teachers[0].trainable_variables}
    assert teacher_ids <= {id(v) for v in distiller.trainable_variables}
    history = distiller.fit(batch_dataset(repeat=2), epochs=1, verbose=0)
    assert {"loss", "ce", "kl", "teacher_ce", "teacher_kl", "acc", "teacher_acc"} <= set(history.history)
    assert any(not np.allclose(b, a) for b, a in zip(teacher_before, weights_of(distiller.teachers[0])))
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))
    # The selection metric stays the student's own head; teacher_acc is the teacher's.
    assert distiller.accuracy_metric(distiller.directions[0]) == "acc"
    inputs, labels = next(iter(batch_dataset()))
    logs = distiller.evaluate(batch_dataset(), verbose=0, return_dict=True)
    teacher_predictions = np.argmax(distiller.teachers[0](inputs["teacher"])["logits"].numpy(), axis=1)
    student_predictions = np.argmax(distiller.students[0](inputs["student"])["logits"].numpy(), axis=1)
    assert logs["teacher_acc"] == pytest.approx(np.mean(teacher_predictions == labels.numpy()))
    assert logs["acc"] == pytest.approx(np.mean(student_predictions == labels.numpy()))


def test_direction_both_trains_all_four_models():
    distiller = make_distiller("dml", 16, 16, both=True)
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    before = [weights_of(m) for m in distiller.students + distiller.teachers]
    history = distiller.fit(batch_dataset(), epochs=1, verbose=0)
    assert {"a_teacher_acc", "b_teacher_acc", "a_kl", "b_teacher_kl"} <= set(history.history)
    for old, model in zip(before, distiller.students + distiller.teachers):
        assert any(not np.allclose(b, a) for b, a in zip(old, weights_of(model)))
    assert distiller(next(iter(batch_dataset()))[0])["a"]["student"]["logits"].shape == (8, CLASSES)


def test_config_section_defaults():
    settings = config_from_dict({"distill": {"method": "dml"}}).distill.dml
    assert (settings.ce_weight, settings.kl_weight, settings.temperature) == (1.0, 1.0, 1.0)
