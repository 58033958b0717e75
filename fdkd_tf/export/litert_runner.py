"""Runs an exported TFLite file with the LiteRT interpreter (``ai-edge-litert``).

``tf.lite.Interpreter`` is deprecated; exported files are verified with the
interpreter that apps ship with, ``ai_edge_litert.interpreter.Interpreter``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from fdkd_tf.export.inference_model import SERVING_SIGNATURE

#: ops that only move data between the float interface and int8 internals
_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}


class LiteRTModel:
    """A TFLite file behind its ``serving_default`` signature.

    Args:
        path: the ``.tflite`` file.
        num_threads: CPU threads of the interpreter (default: all cores).

    Example:
        >>> model = LiteRTModel("export/student_int8.tflite")  # doctest: +SKIP
        >>> model.predict(inputs)["logits"].shape  # doctest: +SKIP
    """

    def __init__(self, path: str, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = path
        self.interpreter = Interpreter(model_path=path, num_threads=num_threads or os.cpu_count())
        self.runner = self.interpreter.get_signature_runner(SERVING_SIGNATURE)
        (self.input_name,) = self.runner.get_input_details()

    def __call__(self, inputs: np.ndarray) -> dict:
        """One batch -> ``{"logits", "probabilities"}`` as numpy arrays."""
        outputs = self.runner(**{self.input_name: np.asarray(inputs, dtype=np.float32)})
        return {name: np.array(value) for name, value in outputs.items()}

    def predict(self, inputs: np.ndarray, batch_size: int = 64) -> dict:
        """Runs ``inputs`` in batches of ``batch_size`` and concatenates the outputs."""
        pieces = [self(inputs[start : start + batch_size]) for start in range(0, len(inputs), batch_size)]
        return {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}

    def float_ops(self) -> list[str]:
        """Sorted names of ops that compute in float32 (the int8 float fallback)."""
        names = set()
        for op in self.interpreter._get_ops_details():  # noqa: SLF001 - the only per-op dtype view
            if op["op_name"] in _BOUNDARY_OPS:
                continue
            if any(np.dtype(t) == np.float32 for t in op.get("operand_types", [])):
                names.add(op["op_name"])
        return sorted(names)

    def op_names(self) -> list[str]:
        """Sorted names of every op in the graph (``FlexRFFT`` etc. mark select-TF ops)."""
        return sorted({op["op_name"] for op in self.interpreter._get_ops_details()})  # noqa: SLF001


def mean_latency_ms(call, samples: np.ndarray, repeats: int, warmup: int = 3) -> float:
    """Mean wall time in milliseconds of ``call`` on one sample (batch of 1).

    Args:
        call: function of a ``(1, ...)`` batch.
        samples: inputs to cycle through.
        repeats: timed calls.
        warmup: untimed calls first (allocation, delegate set-up).
    """
    for index in range(warmup):
        call(samples[index % len(samples)][None])
    started = time.perf_counter()
    for index in range(repeats):
        call(samples[index % len(samples)][None])
    return 1000.0 * (time.perf_counter() - started) / repeats
