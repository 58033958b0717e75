"""Ctrl-C reaches a safe point even when it lands in a destructor between two fits."""

from __future__ import annotations

import os
import signal

import keras
import numpy as np
import pytest

from fdkd_tf.training.interruption import StopOnInterrupt, deferred, install_handler


@pytest.fixture
def handler():
    previous = signal.getsignal(signal.SIGINT)
    install_handler()
    yield
    signal.signal(signal.SIGINT, previous)


class _PressesCtrlCWhenFreed:
    """Python runs the SIGINT handler inside this ``__del__``, where an exception is
    printed as "Exception ignored" and lost: a tf.data iterator freed between fits."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)


def _epochs_before_the_stop(press_after_epoch: int, epochs: int) -> list[int]:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    finished = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: finished.append(epoch))
    with pytest.raises(KeyboardInterrupt):
        with deferred():
            for epoch in range(epochs):
                model.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, callbacks=[record, StopOnInterrupt()], verbose=0)
                if epoch == press_after_epoch:
                    _PressesCtrlCWhenFreed()  # freed at once
    return finished


def test_a_ctrl_c_freed_between_two_fits_stops_the_next_fit_before_a_batch(handler):
    assert _epochs_before_the_stop(press_after_epoch=0, epochs=3) == [0]


def test_a_ctrl_c_after_the_last_fit_is_raised_when_the_block_ends(handler):
    assert _epochs_before_the_stop(press_after_epoch=1, epochs=2) == [0, 1]


def test_outside_a_fit_or_a_deferred_block_ctrl_c_raises_at_once(handler):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs at the next bytecode boundary
            pass
