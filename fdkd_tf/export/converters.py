"""SavedModel and TFLite conversion of an inference model.

One SavedModel with a named signature is the source of every TFLite file, so all
formats share the graph that was verified. The TFLite variants differ only in how
weights and activations are stored:

- ``tflite``: float32 everywhere (the parity reference, goal: within 1e-4 of Keras);
- ``tflite_fp16``: float16 weights, dequantized to float32 at load (half the size);
- ``tflite_int8``: full-integer quantization calibrated on a representative set
  drawn from the run's *training* split. The signature's input and output stay
  float32 (a quantize op after the input, a dequantize op before the outputs), so
  apps feed the same tensors to every format. Ops without an int8 kernel fall back
  to float32 kernels, and layers named in ``float_layers`` (the audio front end)
  are kept in float32 on purpose; the verification report lists such ops under
  ``float_ops``. Weight scales are per output channel for
  convolutions, whose channels differ in range once BatchNorm is folded in, and per
  tensor for dense layers by default (`INT8_SCALES`): a small dense student's file is
  then about a seventh smaller with the same predictions (docs/deployment.md).
"""

from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python import convert as tflite_convert

from fdkd_tf.export.inference_model import SERVING_SIGNATURE

TFLITE_FORMATS = ("tflite", "tflite_fp16", "tflite_int8")
FORMATS = ("saved_model",) + TFLITE_FORMATS
#: int8 weight-scale modes: convs per channel + dense per tensor, all per channel, all per tensor
INT8_SCALES = ("dense_per_tensor", "per_channel", "per_tensor")
DEFAULT_INT8_SCALES = INT8_SCALES[0]


def check_int8_scales(int8_scales: str) -> None:
    """Raises ValueError naming the choices if ``int8_scales`` is not in `INT8_SCALES`."""
    if int8_scales not in INT8_SCALES:
        raise ValueError(f"unknown int8 weight-scale mode {int8_scales!r}; choose one of {', '.join(INT8_SCALES)}")


def save_saved_model(model: keras.Model, path: str, input_name: str) -> None:
    """Writes ``model`` as a SavedModel whose ``serving_default`` signature is
    ``{input_name: float32 (batch, ...)} -> {"logits", "probabilities"}``.

    Args:
        model: the inference model (`build_inference_model`).
        path: the SavedModel directory to create.
        input_name: the signature's input name.
    """
    spec = tf.TensorSpec((None, *model.input.shape[1:]), tf.float32, name=input_name)
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(inputs):
        outputs = model(inputs, training=False)
        return {"logits": outputs["logits"], "probabilities": outputs["probabilities"]}

    archive.add_endpoint(name=SERVING_SIGNATURE, fn=serve, input_signature=[spec])
    archive.write_out(path, verbose=False)


def representative_generator(samples: np.ndarray, batch_size: int = 1) -> Callable:
    """The ``representative_dataset`` callable of the TFLite converter.

    Args:
        samples: float32 inputs ``(n, ...)``, e.g. from
            `DatasetBundle.representative_inputs("train", "student", n)`.
        batch_size: samples per calibration step.

    Returns:
        A function yielding ``[batch]`` lists, one per calibration step.
    """

    def generate():
        for start in range(0, len(samples), batch_size):
            yield [np.asarray(samples[start : start + batch_size], dtype=np.float32)]

    return generate


def convert_tflite(
    saved_model_dir: str,
    fmt: str,
    representative: Optional[np.ndarray] = None,
    allow_select_tf_ops: bool = False,
    int8_scales: str = DEFAULT_INT8_SCALES,
    float_layers: Sequence[str] = (),
) -> bytes:
    """Converts the ``serving_default`` signature of a SavedModel to TFLite.

    Args:
        saved_model_dir: written by `save_saved_model`.
        fmt: ``tflite`` | ``tflite_fp16`` | ``tflite_int8``.
        representative: calibration inputs (required for ``tflite_int8``).
        allow_select_tf_ops: also allow TensorFlow kernels (``SELECT_TF_OPS``) for
            ops with no TFLite builtin; the app then needs the Flex delegate.
        int8_scales: how int8 weights are scaled, one of `INT8_SCALES`:
            ``dense_per_tensor`` (default) one scale per output channel for
            convolutions and one per tensor for dense layers; ``per_channel``
            one per output channel everywhere (the converter's own default);
            ``per_tensor`` one per tensor everywhere.
        float_layers: names of Keras layers whose ops stay float32 in an int8
            file, e.g. the audio front end: quantizing a waveform to 8 bits and a
            magnitude spectrum that spans 1e-7..1e2 before its log would destroy
            quiet sounds (docs/deployment.md measures it).

    Returns:
        The flatbuffer bytes.

    Raises:
        ValueError: for an unknown format or int8 scale mode, int8 without
            calibration inputs, or a float layer with no op in the graph.
    """
    check_int8_scales(int8_scales)
    if fmt not in TFLITE_FORMATS:
        raise ValueError(f"unknown TFLite format {fmt!r}; choose one of {', '.join(TFLITE_FORMATS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[SERVING_SIGNATURE])
    builtins = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if fmt == "tflite_fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif fmt == "tflite_int8":
        if representative is None or len(representative) == 0:
            raise ValueError("tflite_int8 needs representative inputs from the training split to calibrate")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_generator(representative)
        # int8 kernels first; float builtins only where no int8 kernel exists.
        builtins = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
        # The converter's only switches for the scale granularity are these two.
        if int8_scales == "per_tensor":
            converter._experimental_disable_per_channel = True  # noqa: SLF001
        elif int8_scales == "dense_per_tensor":
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True  # noqa: SLF001
    if allow_select_tf_ops:
        builtins = builtins + [tf.lite.OpsSet.SELECT_TF_OPS]
    converter.target_spec.supported_ops = builtins
    if fmt != "tflite_int8" or not float_layers:
        return converter.convert()
    # Selective quantization, as tf.lite.experimental.QuantizationDebugger does it:
    # calibrate the float graph, then quantize all but the denied ops' outputs.
    converter._experimental_calibrate_only = True  # noqa: SLF001
    calibrated = converter.convert()
    return tflite_convert.mlir_quantize(
        calibrated,
        disable_per_channel=int8_scales == "per_tensor",
        disable_per_channel_for_dense_layers=int8_scales == "dense_per_tensor",
        fully_quantize=False,  # float32 input and outputs, as without float layers
        denylisted_nodes=layer_op_outputs(calibrated, float_layers),
    )


def layer_op_outputs(content: bytes, layer_names: Sequence[str]) -> list[str]:
    """Output tensor names of the ops that Keras layers ``layer_names`` lowered to.

    TFLite names a tensor after the TensorFlow op path, which holds the layer's
    name as one component (with a ``_<n>`` suffix when traced more than once),
    e.g. ``student_audio_inference_1/audio_frontend_1/Log``.

    Raises:
        ValueError: naming a layer none of whose ops is in the graph.
    """
    interpreter = Interpreter(model_content=content)
    names = {detail["index"]: detail["name"] for detail in interpreter.get_tensor_details()}
    outputs = [names[index] for op in interpreter._get_ops_details() for index in op["outputs"] if index >= 0]  # noqa: SLF001
    selected = []
    for layer in layer_names:
        pattern = re.compile(rf"(^|/){re.escape(layer)}(_\d+)?/")
        found = [name for name in outputs if pattern.search(name)]
        if not found:
            raise ValueError(f"no op of layer {layer!r} in the converted graph; float_layers must name layers of the exported model")
        selected.extend(found)
    return sorted(set(selected))
