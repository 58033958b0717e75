"""Strategy selection by name."""

from __future__ import annotations

import pytest
import tensorflow as tf

from fdkd_tf.training.strategy import make_strategy


def test_auto_is_default_without_gpus():
    assert not tf.config.list_physical_devices("GPU")
    assert make_strategy("auto").num_replicas_in_sync == 1
    assert make_strategy("default") is tf.distribute.get_strategy()


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError, match="mirror"):
        make_strategy("mirror")
