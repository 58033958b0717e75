"""Ctrl-C during training: stop at the next batch boundary, in Python, every time.

A SIGINT that lands while TensorFlow runs a step or a `tf.data` iterator can surface
inside a destructor or a background callback, where Python prints "Exception ignored"
and carries on, so a plain KeyboardInterrupt does not reliably stop `fit`. The CLI
installs `install_handler`: inside `fit` a Ctrl-C only raises a flag, and
`StopOnInterrupt` (a callback every stage carries) raises `KeyboardInterrupt` from its
batch hook, a safe point; outside `fit`, or at a second Ctrl-C, it raises at once.
"""

from __future__ import annotations

import signal

import keras

_state = {"requested": False, "in_fit": False}


def _handler(signum, frame):
    if _state["in_fit"] and not _state["requested"]:
        _state["requested"] = True  # StopOnInterrupt raises at the end of this batch
        return
    raise KeyboardInterrupt


def install_handler() -> None:
    """Routes SIGINT through `_handler` (call once, from the main thread)."""
    _state["requested"] = False
    signal.signal(signal.SIGINT, _handler)


class StopOnInterrupt(keras.callbacks.Callback):
    """Raises `KeyboardInterrupt` after the batch during which Ctrl-C was pressed."""

    def on_train_begin(self, logs=None):
        _state["in_fit"] = True

    def on_train_end(self, logs=None):
        _state["in_fit"] = False

    def _check(self):
        if _state["requested"]:
            _state["requested"] = _state["in_fit"] = False
            raise KeyboardInterrupt

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_test_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()
