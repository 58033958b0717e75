"""Any Keras classifier in the project's contract: ``{"features", "logits"}``.

The distillers read a model's ``features`` (what the feature-level losses compare)
and ``logits``. A user's own Keras model (a `keras.Sequential`, a functional model, a
keras-hub backbone with a head, a `keras.applications` network with
``classifier_activation=None``) already computes both; `wrap_classifier` exposes them
without copying anything: the wrapped model is a functional view over the user's
layers, so training it trains the user's model, which then saves as itself
(``model.save``).
"""

from __future__ import annotations

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


def wrap_classifier(
    model: keras.Model, feature_layer: str, dense: bool = False, name: Optional[str] = None
) -> keras.Model:
    """A view of ``model`` whose outputs are ``{"features", "logits"}``.

    Args:
        model: a built functional or Sequential Keras model whose (single) output
            is the class logits: no softmax, shape ``(batch, classes)``, or
            ``(batch, H, W, classes)`` for a dense task.
        feature_layer: the name of the layer (of ``model`` itself) whose output is
            the feature the distillers compare, e.g. the layer before the head.
        dense: keep a spatial feature map (segmentation); by default a map with
            time or spatial axes is averaged over them to a vector.
        name: the wrapper's name (default ``<model.name>_wrapped``).

    Returns:
        A `keras.Model` sharing ``model``'s layers and weights.

    Raises:
        ValueError: naming the layer and listing the candidates when ``model`` has
            no layer ``feature_layer``; for a subclassed model (its intermediate
            outputs are not recorded, so no layer's output can be read).

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
        raise ValueError(
            f"wrap_classifier: {model.name!r} is a subclassed (or unbuilt) model, whose layer outputs are not "
            "recorded; build it as a functional or Sequential model (keras.Input first), or return "
            "{'features': ..., 'logits': ...} from its call"
        )
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
