"""One distillation step per method on the backend in ``KERAS_BACKEND``; run as a script.

``python backend_step.py OUT.npz [--block-tensorflow]`` builds small Dense teacher and
student MLPs, sets every weight from a fixed numpy generator (so all backends start
from the same numbers), takes one SGD step of ``fdcmkd``, ``kd`` and ``feat`` on a
fixed batch with ``train_on_batch`` (Keras' own step on JAX, the custom one on
TensorFlow) and writes the logged terms and the updated weights. With
``--block-tensorflow`` any import of TensorFlow fails, which shows that the method
core needs none.
"""

from __future__ import annotations

import sys

METHODS = ("fdcmkd", "kd", "feat")


BLOCKED = ("tensorflow", "tensorflow_text", "tensorflow_io")


def block_tensorflow() -> None:
    """Makes TensorFlow look uninstalled: ``import tensorflow`` raises
    `ModuleNotFoundError` and ``importlib.util.find_spec`` returns None (what
    libraries that probe for it, like torch's dynamo, expect)."""
    for name in BLOCKED:
        sys.modules[name] = None


def main(output: str, without_tensorflow: bool) -> None:
    if without_tensorflow:
        block_tensorflow()
    import numpy as np

    import fdkd_tf.distillers  # noqa: F401  (the imports the no-TensorFlow check is about)
    import fdkd_tf.layers  # noqa: F401
    import fdkd_tf.losses  # noqa: F401
    import keras
    from fdkd_tf.config import ModelSpec
    from fdkd_tf.distillers import REGISTRY, Direction
    from fdkd_tf.models import build_classifier

    results = {"backend": np.array(keras.backend.backend())}
    data = np.random.default_rng(0)
    inputs = {"teacher": data.normal(size=(8, 10)).astype("float32"), "student": data.normal(size=(8, 6)).astype("float32")}
    labels = data.integers(0, 4, size=8).astype("int32")
    for method in METHODS:
        teacher = build_classifier(ModelSpec(arch="mlp", hidden_units=[16], feature_dim=16), (10,), 4, "teacher_a")
        student = build_classifier(ModelSpec(arch="mlp", hidden_units=[12], feature_dim=8), (6,), 4, "student_b")
        distiller = REGISTRY[method][0]([Direction("b", "student", student, "teacher", teacher)], num_classes=4)
        weights = np.random.default_rng(1)
        distiller.set_weights([weights.normal(scale=0.3, size=w.shape).astype("float32") for w in distiller.get_weights()])
        distiller.compile(optimizer=keras.optimizers.SGD(0.1))
        logs = distiller.train_on_batch(inputs, labels, return_dict=True)
        for name, value in logs.items():
            results[f"{method}/log/{name}"] = np.asarray(value, "float64")
        for index, value in enumerate(distiller.get_weights()):
            results[f"{method}/weight/{index}"] = np.asarray(value)
    results["tensorflow_imported"] = np.array(sys.modules.get("tensorflow") is not None)
    np.savez(output, **results)


if __name__ == "__main__":
    main(sys.argv[1], "--block-tensorflow" in sys.argv[2:])
