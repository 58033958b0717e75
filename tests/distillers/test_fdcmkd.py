"""The FD-CMKD distiller: terms against an independent numpy computation, and the
Table 4 ablation switches."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from distiller_helpers import batch_dataset, make_distiller


def _np_bands(x, low_bins, high_bins):
    spectrum = np.fft.rfft(x, axis=-1)
    low, high = np.zeros_like(spectrum), np.zeros_like(spectrum)
    low[:, low_bins] = spectrum[:, low_bins]
    high[:, high_bins] = spectrum[:, high_bins]
    n = x.shape[-1]
    return np.fft.irfft(low, n=n, axis=-1), np.fft.irfft(high, n=n, axis=-1)


def _np_std(x):
    centered = x - x.mean(-1, keepdims=True)
    return centered / np.maximum(np.linalg.norm(centered, axis=-1, keepdims=True), 1e-8)


def test_band_terms_match_numpy():
    distiller = make_distiller("fdcmkd", teacher_dim=16, student_dim=16)
    inputs, labels = next(iter(batch_dataset()))
    _, terms, _ = distiller.compute_terms(inputs, labels, training=False)
    direction = distiller.directions[0]
    s = direction.student(inputs["student"])["features"].numpy().astype(np.float64)
    t = direction.teacher(inputs["teacher"])["features"].numpy().astype(np.float64)
    # dim 16 -> 9 bins; non-DC bins 1..8 split 4/4.
    s_low, s_high = _np_bands(s, range(1, 5), range(5, 9))
    t_low, t_high = _np_bands(t, range(1, 5), range(5, 9))
    expected_low = np.mean((_np_std(s_low) - _np_std(t_low)) ** 2)
    sigma = lambda v: np.sign(v) * np.log1p(np.abs(v))  # noqa: E731
    expected_high = np.mean((sigma(_np_std(s_high)) - sigma(_np_std(t_high))) ** 2)
    assert float(terms["low"]) == pytest.approx(expected_low, rel=1e-4)
    assert float(terms["high"]) == pytest.approx(expected_high, rel=1e-4)


def test_shared_classifier_learns_from_teacher_band_but_teacher_does_not():
    distiller = make_distiller("fdcmkd", 16, 16)
    inputs, labels = next(iter(batch_dataset()))
    modules = distiller.direction_modules[0]
    with tf.GradientTape(persistent=True) as tape:
        _, terms, _ = distiller.compute_terms(inputs, labels, training=True)
    head_grad = tape.gradient(terms["align_low_t"], modules["align_low"].trainable_variables)
    assert any(float(tf.reduce_max(tf.abs(g))) > 0 for g in head_grad)
    student_grad = tape.gradient(terms["align_low_t"], distiller.students[0].trainable_variables)
    assert all(g is None for g in student_grad)
    teacher_grad = tape.gradient(terms["low"], distiller.teachers[0].variables)
    assert all(g is None for g in teacher_grad)


@pytest.mark.parametrize(
    "switches, expected",
    [
        (dict(freq=True, align=True, scale=True, log=True), {"low", "high", "align_low_s", "align_high_t", "task_low"}),
        (dict(freq=True, align=False, scale=True, log=True), {"low", "high", "task_low", "task_high"}),
        (dict(freq=False, align=True, scale=True, log=False), {"feat", "align_s", "align_t"}),
        (dict(freq=False, align=False, scale=False, log=False), {"feat"}),
    ],
)
def test_ablation_switches_select_terms(switches, expected):
    distiller = make_distiller("fdcmkd", 16, 16, **switches)
    names = set(distiller.term_names())
    assert expected <= names
    if not switches["align"]:
        assert not any(n.startswith("align") for n in names)
    if not switches["freq"]:
        assert not {"low", "high", "task_low", "task_high"} & names


def test_all_switches_off_is_the_feat_baseline():
    plain = make_distiller("fdcmkd", 16, 16, freq=False, align=False, scale=False, log=False)
    feat = make_distiller("feat", 16, 16)
    inputs, labels = next(iter(batch_dataset()))
    _, plain_terms, _ = plain.compute_terms(inputs, labels, training=False)
    _, feat_terms, _ = feat.compute_terms(inputs, labels, training=False)
    assert float(plain_terms["feat"]) == pytest.approx(float(feat_terms["feat"]), rel=1e-6)


def test_log_switch_changes_only_the_high_term():
    with_log = make_distiller("fdcmkd", 16, 16)
    without_log = make_distiller("fdcmkd", 16, 16, log=False)
    inputs, labels = next(iter(batch_dataset()))
    _, a, _ = with_log.compute_terms(inputs, labels, training=False)
    _, b, _ = without_log.compute_terms(inputs, labels, training=False)
    assert float(a["low"]) == pytest.approx(float(b["low"]))
    assert float(a["high"]) < float(b["high"])  # log1p compresses differences


def test_band_heads_report_accuracy():
    distiller = make_distiller("fdcmkd", 16, 8)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    logs = distiller.evaluate(batch_dataset(), verbose=0, return_dict=True)
    assert {"acc", "low_acc", "high_acc"} <= set(logs)
