"""Two replicas under MirroredStrategy == one device with the same global batch."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from distiller_helpers import batch_dataset, make_distiller, weights_of


def _train(strategy, method: str, initial_weights, steps: int = 2):
    with strategy.scope():
        distiller = make_distiller(method)
        distiller.set_weights(initial_weights)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    history = distiller.fit(batch_dataset(batch=8, repeat=steps), epochs=1, verbose=0, shuffle=False)
    logs = {key: values[-1] for key, values in history.history.items()}
    return weights_of(distiller.students[0]), weights_of(distiller.teachers[0]), distiller, logs



@pytest.mark.parametrize("method", ["fdcmkd", "kd"])
def test_two_replicas_match_one_device(method, mirrored_strategy):
    assert mirrored_strategy.num_replicas_in_sync == 2
    initial = make_distiller(method).get_weights()
    single = _train(tf.distribute.get_strategy(), method, initial)
    mirrored = _train(mirrored_strategy, method, initial)

    # The students moved, and moved identically.
    before = make_distiller(method)
    before.set_weights(initial)
    assert any(not np.allclose(a, b) for a, b in zip(single[0], weights_of(before.students[0])))
    for one, two in zip(single[0], mirrored[0]):
        np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    # Heads and projections too (every trainable weight of the distiller).
    for one, two in zip(single[2].get_weights(), mirrored[2].get_weights()):
        np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    # The logged loss terms and accuracies are the global-batch values.
    assert set(single[3]) == set(mirrored[3])
    for key, value in single[3].items():
        assert mirrored[3][key] == pytest.approx(value, abs=1e-5), key


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("method", ["fdcmkd", "kd"])
def test_two_replicas_match_one_device_in_mixed_precision(method, precision, mirrored_strategy):
    """The same equivalence with the layers computing in bfloat16 (or float16, with
    the LossScaleOptimizer: measured 7.7e-5 for fdcmkd, well inside the bound below).

    Both runs do the same bfloat16 arithmetic per sample; what differs is how the
    batch is split (per-replica matmuls of 4 rows instead of 8, and the gradient
    sum across replicas in float32), which changes rounding only. bfloat16 keeps
    8 significant bits (relative step 2**-8 = 3.9e-3): measured here, weights that
    move by up to 0.16 in two steps differ by at most 2.8e-4 and logged values by
    1.7e-4. 2e-3 bounds that with a 7x margin, while a missing or doubled replica
    scaling (every update off by a factor of 2, i.e. up to ~0.1) still fails.
    """
    from fdkd_tf.training.precision import precision_policy

    with precision_policy(precision):
        initial = make_distiller(method).get_weights()
        single = _train(tf.distribute.get_strategy(), method, initial)
        mirrored = _train(mirrored_strategy, method, initial)
    assert single[2].students[0].compute_dtype == precision.split("_")[1]
    for one, two in zip(single[2].get_weights(), mirrored[2].get_weights()):
        np.testing.assert_allclose(two, one, atol=2e-3, rtol=0)
    for key, value in single[3].items():
        assert mirrored[3][key] == pytest.approx(value, abs=2e-3), key
