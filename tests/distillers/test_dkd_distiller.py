"""The ``dkd`` distiller: terms, the epoch warm-up, a frozen teacher, one fit."""

import keras
import numpy as np
import pytest

from distiller_helpers import batch_dataset, make_distiller, weights_of
from fdkd_tf.config import ConfigError, config_from_dict
from fdkd_tf.distillers.dkd import warmup_factor
from fdkd_tf.losses import cross_entropy, nckd_loss, tckd_loss


def expected_terms(distiller, inputs, labels, temperature):
    student = distiller.students[0](inputs["student"])["logits"]
    teacher = distiller.teachers[0](inputs["teacher"])["logits"]
    return {
        "ce": float(np.mean(cross_entropy(labels, student))),
        "tckd": float(np.mean(tckd_loss(student, teacher, labels, temperature))),
        "nckd": float(np.mean(nckd_loss(student, teacher, labels, temperature))),
    }


@pytest.mark.parametrize("epoch, factor", [(0, 0.25), (2, 0.75), (3, 1.0), (9, 1.0)])
def test_terms_are_weighted_summed_and_warmed_up(epoch, factor):
    distiller = make_distiller("dkd", alpha=2.0, beta=3.0, temperature=2.0, warmup_epochs=4, ce_weight=0.5)
    distiller.epoch.assign(float(epoch))
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == ("ce", "tckd", "nckd", "warmup")
    raw = expected_terms(distiller, inputs, labels, 2.0)
    assert float(terms["warmup"]) == pytest.approx(factor)
    assert float(terms["tckd"]) == pytest.approx(factor * raw["tckd"], rel=1e-5)
    assert float(terms["nckd"]) == pytest.approx(factor * raw["nckd"], rel=1e-5)
    # The warm-up factor is logged, not added to the loss.
    assert float(total) == pytest.approx(0.5 * raw["ce"] + factor * (2.0 * raw["tckd"] + 3.0 * raw["nckd"]), rel=1e-5)


def test_warmup_off_and_factor_values():
    assert float(warmup_factor(0, 0)) == 1.0
    assert float(warmup_factor(0, 20)) == pytest.approx(1 / 20)  # the original's epoch 1
    assert float(warmup_factor(19, 20)) == 1.0
    distiller = make_distiller("dkd", warmup_epochs=0)
    inputs, labels = next(iter(batch_dataset()))
    _, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert float(terms["tckd"]) == pytest.approx(expected_terms(distiller, inputs, labels, 4.0)["tckd"], rel=1e-5)


def test_fit_follows_the_epochs_also_when_resumed_and_keeps_the_teacher_frozen():
    distiller = make_distiller("dkd")  # warmup_epochs 20
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    history = distiller.fit(batch_dataset(), epochs=3, verbose=0)
    np.testing.assert_allclose(history.history["warmup"], [0.05, 0.10, 0.15], rtol=1e-6)
    assert {"loss", "ce", "tckd", "nckd", "acc"} <= set(history.history)
    resumed = distiller.fit(batch_dataset(), epochs=5, initial_epoch=3, verbose=0)
    np.testing.assert_allclose(resumed.history["warmup"], [0.20, 0.25], rtol=1e-6)
    for before, after in zip(teacher_before, weights_of(distiller.teachers[0])):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))


def test_config_section_defaults_and_validation():
    settings = config_from_dict({"distill": {"method": "dkd"}}).distill.dkd
    assert (settings.alpha, settings.beta, settings.temperature, settings.warmup_epochs) == (1.0, 8.0, 4.0, 20)
    with pytest.raises(ConfigError, match="distill.dkd.warmup_epochs"):
        config_from_dict({"distill": {"method": "dkd", "dkd": {"warmup_epochs": -1}}})
    with pytest.raises(ConfigError, match="distill.dkd.warmup_epochs"):
        config_from_dict({"distill": {"method": "dkd", "dkd": {"warmup_epochs": 2.5}}})
