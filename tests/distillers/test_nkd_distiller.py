"""The ``nkd`` distiller: its terms, their weighted sum, a frozen teacher, one fit."""

import keras
import numpy as np
import pytest

from distiller_helpers import batch_dataset, make_distiller, weights_of
from fdkd_tf.config import ConfigError, config_from_dict
from fdkd_tf.losses import cross_entropy, nkd_loss, nkd_non_target_loss, nkd_target_loss


def test_terms_are_named_weighted_and_summed():
    distiller = make_distiller("nkd", temperature=2.0, gamma=1.5, nkd_weight=0.5, ce_weight=2.0)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == ("ce", "target", "non_target")
    student = distiller.students[0](inputs["student"])["logits"]
    teacher = distiller.teachers[0](inputs["teacher"])["logits"]
    expected = {
        "ce": float(np.mean(cross_entropy(labels, student))),
        "target": float(np.mean(nkd_target_loss(student, teacher, labels))),
        "non_target": float(np.mean(nkd_non_target_loss(student, teacher, labels, 2.0))),
    }
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-5)
    nkd_total = float(np.mean(nkd_loss(student, teacher, labels, 2.0, 1.5)))
    assert float(total) == pytest.approx(2.0 * expected["ce"] + 0.5 * nkd_total, rel=1e-5)


def test_one_fit_trains_the_student_and_not_the_teacher():
    distiller = make_distiller("nkd")
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    history = distiller.fit(batch_dataset(repeat=2), epochs=1, verbose=0)
    assert {"loss", "ce", "target", "non_target", "acc"} <= set(history.history)
    for before, after in zip(teacher_before, weights_of(distiller.teachers[0])):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))


def test_config_section_defaults_and_validation():
    settings = config_from_dict({"distill": {"method": "nkd"}}).distill.nkd
    assert (settings.temperature, settings.gamma, settings.nkd_weight, settings.ce_weight) == (1.0, 1.5, 1.0, 1.0)
    with pytest.raises(ConfigError, match="distill.nkd.gamma"):
        config_from_dict({"distill": {"method": "nkd", "nkd": {"gamma": -1}}})
