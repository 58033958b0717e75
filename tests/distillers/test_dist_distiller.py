"""The ``dist`` distiller: its terms, their weighted sum, a frozen teacher, one fit."""

import keras
import numpy as np
import pytest

from distiller_helpers import batch_dataset, make_distiller, weights_of
from fdkd_tf.config import ConfigError, config_from_dict
from fdkd_tf.losses import cross_entropy, dist_inter_loss, dist_intra_loss


def test_terms_are_named_weighted_and_summed():
    distiller = make_distiller("dist", beta=2.0, gamma=0.5, tau=3.0, ce_weight=0.25)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, logits = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == ("ce", "inter", "intra")
    student = distiller.students[0](inputs["student"])["logits"]
    teacher = distiller.teachers[0](inputs["teacher"])["logits"]
    expected = {
        "ce": float(np.mean(cross_entropy(labels, student))),
        "inter": float(np.mean(dist_inter_loss(student, teacher, 3.0))),
        "intra": float(np.mean(dist_intra_loss(student, teacher, 3.0))),
    }
    for name, value in expected.items():
        assert float(terms[name]) == pytest.approx(value, rel=1e-5)
    weighted = 0.25 * expected["ce"] + 2.0 * expected["inter"] + 0.5 * expected["intra"]
    assert float(total) == pytest.approx(weighted, rel=1e-5)
    assert set(logits) == {"acc"}


def test_one_fit_trains_the_student_and_not_the_teacher():
    distiller = make_distiller("dist")
    distiller.compile(optimizer=keras.optimizers.SGD(0.5))
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    history = distiller.fit(batch_dataset(repeat=2), epochs=1, verbose=0)
    assert {"loss", "ce", "inter", "intra", "acc"} <= set(history.history)
    assert np.isfinite(history.history["loss"][0])
    for before, after in zip(teacher_before, weights_of(distiller.teachers[0])):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))


def test_config_section_defaults_and_validation():
    config = config_from_dict({"distill": {"method": "dist"}})
    settings = config.distill.dist
    assert (settings.beta, settings.gamma, settings.tau, settings.ce_weight) == (1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ConfigError, match="distill.dist.tau"):
        config_from_dict({"distill": {"method": "dist", "dist": {"tau": 0}}})


@pytest.mark.parametrize("method", ["dist", "dml", "nkd", "dkd"])
def test_logit_baselines_refuse_per_pixel_students(method):
    from testing_utils import tiny_classifier
    from fdkd_tf.config import DistillConfig
    from fdkd_tf.distillers import Direction, build_distiller

    pixels = keras.Input((4, 4, 3))
    outputs = {"features": keras.layers.GlobalAveragePooling2D()(pixels), "logits": keras.layers.Conv2D(2, 1)(pixels)}
    dense = keras.Model(pixels, outputs, name="per_pixel_student")
    teacher = tiny_classifier(10, 8, 2, "flat_teacher", seed=0)
    with pytest.raises(ValueError, match=f"distill.method '{method}' needs \\(batch, classes\\) logits"):
        build_distiller(DistillConfig(method=method), [Direction("b", "student", dense, "teacher", teacher)], 2)
