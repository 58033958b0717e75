"""``dkd`` and ``dml`` on two replicas (MirroredStrategy) == one device, same global batch.

DIST is left out on purpose: its intra-class term relates the samples of a
replica's batch, so it differs per replica by design (`fdkd_tf.losses.dist`).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from distiller_helpers import batch_dataset, make_distiller, weights_of


def _train(strategy, method: str, initial_weights, steps: int = 2):
    with strategy.scope():
        distiller = make_distiller(method, warmup_epochs=2) if method == "dkd" else make_distiller(method)
        distiller.set_weights(initial_weights)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    history = distiller.fit(batch_dataset(batch=8, repeat=steps), epochs=2, verbose=0, shuffle=False)
    logs = {key: values[-1] for key, values in history.history.items()}
    return distiller, logs



@pytest.mark.parametrize("method", ["dkd", "dml"])
def test_two_replicas_match_one_device(method, mirrored_strategy):
    assert mirrored_strategy.num_replicas_in_sync == 2
    initial = make_distiller(method).get_weights()
    single, single_logs = _train(tf.distribute.get_strategy(), method, initial)
    mirrored, mirrored_logs = _train(mirrored_strategy, method, initial)

    # Every weight moved identically: students, and the DML teacher that trains too.
    before = make_distiller(method)
    before.set_weights(initial)
    moved = [single.students[0]] + ([single.teachers[0]] if method == "dml" else [])
    reference = [before.students[0]] + ([before.teachers[0]] if method == "dml" else [])
    for after, start in zip(moved, reference):
        assert any(not np.allclose(a, b) for a, b in zip(weights_of(after), weights_of(start)))
    for one, two in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    assert set(single_logs) == set(mirrored_logs)
    for key, value in single_logs.items():
        assert mirrored_logs[key] == pytest.approx(value, abs=1e-5), key
    if method == "dkd":  # the warm-up followed the epochs on both (epoch 2 of 2)
        assert mirrored_logs["warmup"] == pytest.approx(1.0)
