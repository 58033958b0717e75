"""The ``pkd`` distiller: CE + 6 * PKD (mmrazor per-channel standardisation) of projected pooled features."""

import keras
import numpy as np
import pytest
from scipy.special import softmax

from distiller_helpers import batch_dataset, make_distiller, weights_of
from feature_baseline_helpers import image_dataset, make_image_distiller
from fdkd_tf.config import config_from_dict


def test_terms_match_numpy_and_sum_with_the_paper_weight():
    distiller = make_distiller("pkd", teacher_dim=16, student_dim=8)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert tuple(terms) == distiller.term_names() == ("ce", "pkd")
    student_out = distiller.students[0](inputs["student"])
    projected = distiller.direction_modules[0]["projection"](student_out["features"]).numpy().astype(np.float64)
    teacher = distiller.teachers[0](inputs["teacher"])["features"].numpy().astype(np.float64)
    # mmrazor PKDLoss.norm: per-channel over the batch, torch.std (n - 1) + 1e-6, then MSE / 2.
    norm = lambda x: (x - x.mean(0)) / (x.std(0, ddof=1) + 1e-6)
    expected_pkd = 0.5 * np.mean(np.sum((norm(projected) - norm(teacher)) ** 2, axis=1)) / projected.shape[1]
    probs = softmax(student_out["logits"].numpy().astype(np.float64), axis=1)
    expected_ce = -np.mean(np.log(probs[np.arange(8), labels.numpy()]))
    assert float(terms["pkd"]) == pytest.approx(expected_pkd, rel=1e-4)
    assert float(terms["ce"]) == pytest.approx(expected_ce, rel=1e-5)
    assert float(total) == pytest.approx(expected_ce + 6.0 * expected_pkd, rel=1e-4)


def test_no_projection_when_sizes_agree():
    assert "projection" not in make_distiller("pkd", 16, 16).direction_modules[0]


@pytest.mark.parametrize("student_arch", ["mlp", "small_cnn"])
def test_fit_step_trains_student_and_projection_and_freezes_teacher(student_arch):
    distiller = make_image_distiller("pkd", student_arch)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
    teacher_before = weights_of(distiller.teachers[0])
    student_before = weights_of(distiller.students[0])
    projection_before = np.array(distiller.direction_modules[0]["projection"].kernel)
    history = distiller.fit(image_dataset(student_arch), epochs=1, verbose=0)
    assert {"loss", "ce", "pkd", "acc"} <= set(history.history)
    for before, after in zip(teacher_before, weights_of(distiller.teachers[0])):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))
    assert not np.allclose(projection_before, np.array(distiller.direction_modules[0]["projection"].kernel))


def test_config_defaults():
    settings = config_from_dict({"distill": {"method": "pkd"}}).distill.pkd
    assert (settings.pkd_weight, settings.ce_weight) == (6.0, 1.0)
