"""Ctrl-C during training: stop at the next batch boundary, in Python, every time.

A SIGINT that lands while TensorFlow runs a step or a `tf.data` iterator can surface
inside a destructor or a background callback, where Python prints "Exception ignored"
and carries on, so a plain KeyboardInterrupt does not reliably stop `fit`. The CLI
installs `install_handler`: inside `fit`, and inside a `deferred()` block such as a
stage's loop of one-epoch fits (whose gaps free the last epoch's iterators), a Ctrl-C
only raises a flag, and `StopOnInterrupt` (a callback every stage carries) raises
`KeyboardInterrupt` from a batch, epoch or fit-start hook, a safe point; `deferred()`
raises it on leaving a block that no fit followed. Elsewhere, or at a second Ctrl-C,
it raises at once.
"""

from __future__ import annotations

import contextlib
import signal

import keras

_state = {"requested": False, "in_fit": False, "deferring": 0}


def _handler(signum, frame):
    if (_state["in_fit"] or _state["deferring"]) and not _state["requested"]:
        _state["requested"] = True  # StopOnInterrupt raises at the next safe point
        return
    raise KeyboardInterrupt


def install_handler() -> None:
    """Routes SIGINT through `_handler` (call once, from the main thread)."""
    _state["requested"] = False
    signal.signal(signal.SIGINT, _handler)


def _raise_if_requested() -> None:
    if _state["requested"]:
        _state["requested"] = False
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """A block in which a Ctrl-C waits for the next safe point (see the module doc)."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
    _raise_if_requested()


class StopOnInterrupt(keras.callbacks.Callback):
    """Raises `KeyboardInterrupt` after the batch during which Ctrl-C was pressed."""

    def on_train_begin(self, logs=None):
        _state["in_fit"] = True
        self._check()  # pressed between two fits of a `deferred()` loop

    def on_train_end(self, logs=None):
        _state["in_fit"] = False

    def _check(self):
        if _state["requested"]:
            _state["in_fit"] = False
            _raise_if_requested()

    def on_train_batch_end(self, batch, logs=None):
        self._check()

    def on_test_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        self._check()
