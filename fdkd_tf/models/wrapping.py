"""Any Keras classifier in the project's contract: ``{"features", "logits"}``.

The distillers read a model's ``features`` (what the feature-level losses compare)
and ``logits``. A user's own Keras model (a `keras.Sequential`, a functional model, a
keras-hub backbone with a head, a `keras.applications` network with
``classifier_activation=None``) already computes both; `wrap_classifier` exposes them
without copying anything: the wrapped model is a functional view over the user's
layers, so training it trains the user's model, which then saves as itself
(``model.save``).

A subclassed model records no intermediate outputs, so it is wrapped by
`SubclassedView`: a model that calls the user's model and catches the named
sub-layer's output on the way (the sub-layer's ``call`` is wrapped once to hand its
output to the view calling it, per thread, so the replicas of a
`tf.distribute.MirroredStrategy` never see each other's).
"""

from __future__ import annotations

import threading
from typing import Optional

import keras

#: global average pooling of a feature map by its rank (batch axis included)
_POOLING = {
    3: keras.layers.GlobalAveragePooling1D,  # (batch, time, channels)
    4: keras.layers.GlobalAveragePooling2D,  # (batch, height, width, channels)
    5: keras.layers.GlobalAveragePooling3D,  # (batch, time, height, width, channels)
}


def _layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _output_in(model: keras.Model, layer) -> object:
    """The layer's output tensor in ``model``'s graph.

    A nested model (a keras-hub backbone inside a functional classifier) has one node
    per call, the first being its own construction, so ``layer.output`` may not be the
    tensor of this model: the node whose output connects to ``model.inputs`` is.
    """
    for node in getattr(layer, "_inbound_nodes", []):
        outputs = node.outputs[0] if len(node.outputs) == 1 else node.outputs
        try:
            keras.Model(model.inputs, outputs)
        except ValueError:
            continue
        return outputs
    return layer.output


_CAPTURE = threading.local()  # .outputs: {id(layer): output} while a SubclassedView calls its model


def _sublayers(model: keras.Model) -> list:
    """Every layer inside ``model`` (recursively), without the model itself."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def _capture_calls(layer) -> None:
    """Wraps ``layer.call`` once so its output reaches the `SubclassedView` calling it."""
    if getattr(layer, "_fdkd_captured", False):
        return
    original = layer.call

    def call(*args, **kwargs):
        output = original(*args, **kwargs)
        outputs = getattr(_CAPTURE, "outputs", None)
        if outputs is not None and id(layer) in outputs:
            outputs[id(layer)] = output
        return output

    object.__setattr__(layer, "call", call)  # plain attribute: not tracked, not serialised
    object.__setattr__(layer, "_fdkd_captured", True)


class SubclassedView(keras.Model):
    """``{"features", "logits"}`` of a subclassed classifier: its output and one sub-layer's.

    Holds the user's model (its weights, trained in place); it is a runtime view and
    is not saved itself: save the user's model.
    """

    def __init__(self, model: keras.Model, feature_layer, dense: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.feature_layer = feature_layer
        self.dense = dense
        _capture_calls(feature_layer)

    def call(self, inputs, training=None):
        outer = getattr(_CAPTURE, "outputs", None)
        _CAPTURE.outputs = {id(self.feature_layer): None}
        try:
            logits = self.model(inputs, training=training)
            features = _CAPTURE.outputs[id(self.feature_layer)]
        finally:
            _CAPTURE.outputs = outer
        if features is None:
            raise ValueError(
                f"wrap_classifier: layer {self.feature_layer.name!r} of {self.model.name!r} was not called by the "
                "model's call; name a layer the forward pass uses"
            )
        rank = len(features.shape)
        if not self.dense and rank > 2:
            features = keras.ops.mean(features, axis=tuple(range(1, rank - 1)))
        return {"features": features, "logits": logits}


def _built_input_shape(model: keras.Model) -> Optional[tuple]:
    """The per-sample input shape a built subclassed model was called with, or None."""
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    if len(shapes) == 1:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (list, tuple)) and shape and all(isinstance(n, (int, type(None))) for n in shape):
            return tuple(shape[1:])
    return None


def _wrap_subclassed(model, feature_layer: str, dense: bool, name: Optional[str], input_shape) -> keras.Model:
    layers = {layer.name: layer for layer in reversed(_sublayers(model))}  # the first of a repeated name wins
    if feature_layer not in layers:
        raise ValueError(
            f"wrap_classifier: {model.name!r} has no layer {feature_layer!r} (feature_layer); its layers are: "
            f"{', '.join(layer.name for layer in _sublayers(model)) or 'none'}"
        )
    input_shape = tuple(input_shape) if input_shape is not None else _built_input_shape(model)
    if input_shape is None:
        raise ValueError(
            f"wrap_classifier: {model.name!r} is a subclassed model that has not been called; pass "
            "input_shape=(per-sample shape) or call it once on a batch first"
        )
    name = name or f"{model.name.lstrip('_') or 'model'}_wrapped"
    inputs = keras.Input(input_shape)
    view = SubclassedView(model, layers[feature_layer], dense=dense, name=f"{name}_view")
    return keras.Model(inputs, view(inputs), name=name)


def wrap_classifier(
    model: keras.Model, feature_layer: str, dense: bool = False, name: Optional[str] = None, input_shape=None
) -> keras.Model:
    """A view of ``model`` whose outputs are ``{"features", "logits"}``.

    Args:
        model: a functional, Sequential or subclassed Keras model whose (single) output
            is the class logits: no softmax, shape ``(batch, classes)``, or
            ``(batch, H, W, classes)`` for a dense task.
        feature_layer: the name of the layer whose output is the feature the
            distillers compare, e.g. the layer before the head: a layer of
            ``model`` itself, or, for a subclassed model, any sub-layer it calls.
        dense: keep a spatial feature map (segmentation); by default a map with
            time or spatial axes is averaged over them to a vector.
        name: the wrapper's name (default ``<model.name>_wrapped``).
        input_shape: per-sample input shape of a subclassed model that has not been
            called yet (otherwise read from the model).

    Returns:
        A functional `keras.Model` sharing ``model``'s layers and weights (around a
        `SubclassedView` for a subclassed model).

    Raises:
        ValueError: naming the layer and listing the candidates when ``model`` has
            no layer ``feature_layer``.

    Example:
        >>> student = keras.Sequential([keras.Input((76,)), keras.layers.Dense(64, name="hidden"), keras.layers.Dense(10)])
        >>> wrapped = wrap_classifier(student, feature_layer="hidden")
        >>> sorted(wrapped(np.zeros((2, 76))).keys())
        ['features', 'logits']
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"wrap_classifier: expected a keras.Model, got {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        return _wrap_subclassed(model, feature_layer, dense, name, input_shape)
    if len(outputs) != 1:
        raise ValueError(f"wrap_classifier: {model.name!r} has {len(outputs)} outputs; it must have one, the logits")
    names = _layer_names(model)
    if feature_layer not in names:
        raise ValueError(
            f"wrap_classifier: {model.name!r} has no layer {feature_layer!r} (feature_layer); its layers are: "
            f"{', '.join(names)}"
        )
    features = _output_in(model, model.get_layer(feature_layer))
    if isinstance(features, (list, tuple)):
        raise ValueError(f"wrap_classifier: layer {feature_layer!r} has several outputs; name a layer with one")
    rank = len(features.shape)
    if not dense and rank > 2:
        if rank not in _POOLING:
            raise ValueError(f"wrap_classifier: layer {feature_layer!r} gives rank-{rank} outputs; expected 2 to 5")
        features = _POOLING[rank](name=f"{feature_layer}_pooled")(features)
    inputs = inputs[0] if len(inputs) == 1 else inputs
    return keras.Model(inputs, {"features": features, "logits": outputs[0]}, name=name or f"{model.name}_wrapped")


SAVED_MODEL_ENDPOINTS = ("serving_default", "serve")


def wrap_saved_model(path: str, feature_output: str, input_shape, dense: bool = False, name: Optional[str] = None) -> keras.Model:
    """A frozen ``{"features", "logits"}`` model over a TensorFlow SavedModel directory.

    A SavedModel is a traced inference graph: its layers are gone, so the feature is
    read from its signature's outputs. ``feature_output`` names that output; the
    logits are the output called ``logits``, or the only other one. (Export such a
    teacher from Keras with outputs ``{"features": ..., "logits": ...}``; a SavedModel
    that returns only logits cannot teach features: save it as ``.keras`` instead.)
    TensorFlow backend only (`keras.layers.TFSMLayer`); not trainable.

    Args:
        path: the SavedModel directory (``saved_model.pb`` inside).
        feature_output: the signature output holding the features.
        input_shape: per-sample input shape.
        dense: keep a spatial map (otherwise averaged to a vector).
        name: the model's name.

    Raises:
        ValueError: for a directory without a serving signature, a missing
            ``feature_output`` (the outputs are listed), or no logits output.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    endpoint = next((e for e in SAVED_MODEL_ENDPOINTS if e in loaded.signatures), None)
    if endpoint is None:
        raise ValueError(f"wrap_saved_model: {path} has no serving signature (found: {', '.join(loaded.signatures) or 'none'}); export it with model.export(path)")
    outputs = sorted(loaded.signatures[endpoint].structured_outputs)
    if feature_output not in outputs:
        raise ValueError(f"wrap_saved_model: {path} has no output {feature_output!r} (feature_layer); its outputs are: {', '.join(outputs)}")
    others = [output for output in outputs if output != feature_output]
    logits_output = "logits" if "logits" in others else (others[0] if len(others) == 1 else None)
    if logits_output is None:
        raise ValueError(f"wrap_saved_model: {path}: cannot tell the logits among the outputs {', '.join(others) or 'none'}; name that output 'logits'")
    inputs = keras.Input(tuple(input_shape))
    results = keras.layers.TFSMLayer(path, call_endpoint=endpoint, trainable=False, name=f"{name or 'saved'}_graph")(inputs)
    features = results[feature_output]
    rank = len(features.shape)
    if not dense and rank > 2:
        features = _POOLING[rank](name=f"{feature_output}_pooled")(features)
    return keras.Model(inputs, {"features": features, "logits": results[logits_output]}, name=name or "saved_model_wrapped")
