"""``pkd`` and ``c2kd`` on two replicas (MirroredStrategy) == one device, same global
batch; ``ofd``'s running margin statistics sum over replicas.

C2KD runs with ``proxy_batchnorm: false``: a BatchNorm normalizes each replica's
half batch separately (every Keras BatchNorm does), which changes the numbers by
design; everything else of C2KD (both models learning, proxies, the Kendall-tau
gate) is per sample and must match exactly. OFD's regressor has a BatchNorm for
the same reason, so only its margin statistics are compared.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from distiller_helpers import batch_dataset, make_distiller, weights_of

SETTINGS = {"pkd": {}, "c2kd": {"proxy_batchnorm": False, "proxy_units": 16}}


def _train(strategy, method: str, initial_weights, steps: int = 2):
    with strategy.scope():
        distiller = make_distiller(method, **SETTINGS.get(method, {}))
        distiller.set_weights(initial_weights)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), jit_compile=False)
    history = distiller.fit(batch_dataset(batch=8, repeat=steps), epochs=1, verbose=0, shuffle=False)
    logs = {key: values[-1] for key, values in history.history.items()}
    return distiller, logs


@pytest.mark.parametrize("method", ["pkd", "c2kd"])
def test_two_replicas_match_one_device(method, mirrored_strategy):
    assert mirrored_strategy.num_replicas_in_sync == 2
    initial = make_distiller(method, **SETTINGS[method]).get_weights()
    single, single_logs = _train(tf.distribute.get_strategy(), method, initial)
    mirrored, mirrored_logs = _train(mirrored_strategy, method, initial)

    before = make_distiller(method, **SETTINGS[method])
    before.set_weights(initial)
    moved = [(single.students[0], before.students[0])]
    if method == "c2kd":  # the teacher learns too
        moved.append((single.teachers[0], before.teachers[0]))
    for after, start in moved:
        assert any(not np.allclose(a, b) for a, b in zip(weights_of(after), weights_of(start)))
    # Every weight (students, teachers, projections, proxies) moved identically.
    for one, two in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    assert set(single_logs) == set(mirrored_logs)
    for key, value in single_logs.items():
        assert mirrored_logs[key] == pytest.approx(value, abs=1e-5), key
    if method == "c2kd":
        assert 0.0 < single_logs["selected"] <= 1.0


def test_ofd_margin_statistics_sum_over_replicas(mirrored_strategy):
    initial = make_distiller("ofd").get_weights()
    single, _ = _train(tf.distribute.get_strategy(), "ofd", initial)
    mirrored, _ = _train(mirrored_strategy, "ofd", initial)
    one = single.direction_modules[0]["margin"]
    two = mirrored.direction_modules[0]["margin"]
    np.testing.assert_allclose(np.array(two.negative_count), np.array(one.negative_count))
    np.testing.assert_allclose(np.array(two.negative_sum), np.array(one.negative_sum), rtol=1e-5)
    assert np.array(one.negative_count).max() > 0
