"""int8 weight-scale modes of `convert_tflite`, read back from the flatbuffer."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from fdkd_tf.export import INT8_SCALES, convert_tflite, save_saved_model

CONV_FILTERS, DENSE_UNITS = 6, 5


@pytest.fixture(scope="module")
def conv_dense_saved_model(tmp_path_factory):
    """A conv -> BN -> dense classifier whose conv channels differ in range by 100x."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="inputs")
    conv = keras.layers.Conv2D(CONV_FILTERS, 3, name="conv")
    hidden = keras.layers.ReLU()(keras.layers.BatchNormalization()(conv(inputs)))
    logits = keras.layers.Dense(DENSE_UNITS, name="dense")(keras.layers.GlobalAveragePooling2D()(hidden))
    model = keras.Model(inputs, {"logits": logits, "probabilities": keras.layers.Softmax()(logits)})
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel * np.logspace(-1, 1, CONV_FILTERS, dtype="float32"), bias])
    directory = str(tmp_path_factory.mktemp("saved_model"))
    save_saved_model(model, directory, "inputs")
    samples = np.random.default_rng(0).standard_normal((16, 8, 8, 1)).astype("float32")
    return directory, samples


def weight_scale_counts(content: bytes) -> dict:
    """``{op name: number of scales of its int8 weight tensor}`` for CONV_2D and FULLY_CONNECTED."""
    interpreter = Interpreter(model_content=content)
    tensors = {detail["index"]: detail for detail in interpreter.get_tensor_details()}
    counts = {}
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the only per-op view
        if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED"):
            weights = tensors[int(op["inputs"][1])]
            assert np.dtype(weights["dtype"]) == np.int8
            counts[op["op_name"]] = len(weights["quantization_parameters"]["scales"])
    return counts


@pytest.mark.parametrize(
    "scales, expected",
    [
        ("dense_per_tensor", {"CONV_2D": CONV_FILTERS, "FULLY_CONNECTED": 1}),
        ("per_channel", {"CONV_2D": CONV_FILTERS, "FULLY_CONNECTED": DENSE_UNITS}),
        ("per_tensor", {"CONV_2D": 1, "FULLY_CONNECTED": 1}),
    ],
)
def test_int8_scale_modes_set_the_weight_scale_granularity(conv_dense_saved_model, scales, expected):
    directory, samples = conv_dense_saved_model
    content = convert_tflite(directory, "tflite_int8", samples, int8_scales=scales)
    assert weight_scale_counts(content) == expected


def test_default_is_per_channel_convs_and_per_tensor_dense(conv_dense_saved_model):
    directory, samples = conv_dense_saved_model
    assert INT8_SCALES[0] == "dense_per_tensor"
    assert weight_scale_counts(convert_tflite(directory, "tflite_int8", samples)) == {
        "CONV_2D": CONV_FILTERS,
        "FULLY_CONNECTED": 1,
    }


def test_unknown_scale_mode_names_the_choices(conv_dense_saved_model):
    directory, samples = conv_dense_saved_model
    with pytest.raises(ValueError, match="unknown int8 weight-scale mode 'per_row'.*dense_per_tensor, per_channel, per_tensor"):
        convert_tflite(directory, "tflite_int8", samples, int8_scales="per_row")


def test_float_layers_keep_their_ops_in_float32(conv_dense_saved_model):
    directory, samples = conv_dense_saved_model
    interpreter = Interpreter(model_content=convert_tflite(directory, "tflite_int8", samples, float_layers=["conv"]))
    dtypes = {detail["index"]: np.dtype(detail["dtype"]) for detail in interpreter.get_tensor_details()}
    outputs = {op["op_name"]: dtypes[op["outputs"][0]] for op in interpreter._get_ops_details()}  # noqa: SLF001
    assert outputs["CONV_2D"] == np.float32
    assert outputs["FULLY_CONNECTED"] == np.int8
    runner = interpreter.get_signature_runner("serving_default")
    assert runner(inputs=samples)["logits"].dtype == np.float32


def test_unknown_float_layer_is_named(conv_dense_saved_model):
    directory, samples = conv_dense_saved_model
    with pytest.raises(ValueError, match="no op of layer 'frontend'"):
        convert_tflite(directory, "tflite_int8", samples, float_layers=["frontend"])
