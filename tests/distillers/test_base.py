"""Behaviour every distiller shares: a frozen teacher, summed terms, projections."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from distiller_helpers import CLASSES, batch_dataset, make_distiller, weights_of
from fdkd_tf.distillers import REGISTRY, available
from fdkd_tf.distillers.base import build_projection


@pytest.mark.parametrize("method", ["none", "kd", "feat", "fdcmkd"])
def test_teacher_weights_unchanged_and_student_trained(method):
    distiller = make_distiller(method)
    distiller.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.9))
    teacher = distiller.directions[0].teacher
    teacher_before = weights_of(teacher)
    student_before = weights_of(distiller.students[0])
    distiller.fit(batch_dataset(repeat=3), epochs=1, verbose=0)
    for before, after in zip(teacher_before, weights_of(teacher)):
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(b, a) for b, a in zip(student_before, weights_of(distiller.students[0])))
    teacher_ids = {id(v) for v in teacher.weights}
    assert not teacher_ids & {id(v) for v in distiller.trainable_variables}


@pytest.mark.parametrize("method", ["kd", "feat", "fdcmkd"])
def test_logged_loss_is_weighted_sum_of_terms(method):
    distiller = make_distiller(method)
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = distiller.evaluate(batch_dataset(), verbose=0, return_dict=True)
    inputs, labels = next(iter(batch_dataset()))
    total, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    assert set(terms) == set(distiller.term_names())
    assert logs["loss"] == pytest.approx(float(total), rel=1e-5)
    # All default weights are 1, so the total is the plain sum of the terms.
    assert float(total) == pytest.approx(sum(float(v) for v in terms.values()), rel=1e-5)
    for name, value in terms.items():
        assert logs[name] == pytest.approx(float(value), rel=1e-5, abs=1e-7)


def test_projection_added_only_when_sizes_differ():
    assert build_projection(8, 8, "auto", "p") is None
    assert build_projection(8, 16, "auto", "p").kernel.shape == (8, 16)
    assert build_projection(8, 8, "linear", "p") is not None
    with pytest.raises(ValueError, match="distill.projection"):
        build_projection(8, 16, "none", "p")
    assert "projection" in make_distiller("feat", 16, 8).direction_modules[0]
    assert "projection" not in make_distiller("feat", 16, 16).direction_modules[0]


def test_direction_both_trains_two_students_with_prefixed_metrics():
    distiller = make_distiller("fdcmkd", 16, 16, both=True)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    frozen = [weights_of(t) for t in distiller.teachers]
    students = [weights_of(s) for s in distiller.students]
    history = distiller.fit(batch_dataset(), epochs=1, verbose=0)
    assert {"b_acc", "a_acc", "b_low", "a_low", "b_ce", "a_ce"} <= set(history.history)
    for before, teacher in zip(frozen, distiller.teachers):
        for b, a in zip(before, weights_of(teacher)):
            np.testing.assert_array_equal(b, a)
    for before, student in zip(students, distiller.students):
        assert any(not np.allclose(b, a) for b, a in zip(before, weights_of(student)))
    outputs = distiller(next(iter(batch_dataset()))[0])
    assert set(outputs) == {"a", "b"} and outputs["a"]["student"]["logits"].shape == (8, CLASSES)
    assert set(outputs["a"]) == {"student", "teacher"}


def test_registry_names_match_config_sections():
    assert available() == sorted(REGISTRY)
    assert {"none", "kd", "feat", "fdcmkd"} <= set(available())


def test_none_needs_no_teacher():
    from testing_utils import tiny_classifier
    from fdkd_tf.distillers import Direction
    from fdkd_tf.distillers.none import NoDistillation

    student = tiny_classifier(6, 8, CLASSES, "solo", seed=0)
    trainer = NoDistillation([Direction("solo", "student", student)], CLASSES)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1))
    logs = trainer.evaluate(batch_dataset(), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "ce", "acc"}
