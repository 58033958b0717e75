import os
import subprocess
import sys
import typing
from pathlib import Path

import keras
import numpy as np
import pytest

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import FEATURE_BUILDERS, ClassificationHead, build_classifier
from fdkd_tf.models import classifier as classifier_module

REPO_ROOT = Path(__file__).resolve().parents[2]


def _symbolic_output_shapes(model):
    return {key: tuple(tensor.shape) for key, tensor in model.output.items()}


def test_registry_covers_exactly_the_configurable_archs():
    configurable = set(typing.get_args(typing.get_type_hints(ModelSpec)["arch"]))

    assert set(FEATURE_BUILDERS) == configurable - {"saved"}  # saved: the user's own model (training/stages.py)
    assert {"resnet18", "small_cnn", "mlp", "deeplabv3plus"} <= configurable


def test_returns_named_functional_model_with_dict_output(rng):
    model = build_classifier(ModelSpec(arch="mlp", feature_dim=5), (9,), 4, "student")

    assert isinstance(model, keras.Model)
    assert type(model).__name__ == "Functional"
    assert model.name == "student"
    assert len(model.inputs) == 1 and model.input_shape == (None, 9)
    assert _symbolic_output_shapes(model) == {"features": (None, 5), "logits": (None, 4), "hint": (None, 256)}
    outputs = model(rng.standard_normal((3, 9)).astype("float32"))
    assert outputs["features"].dtype == "float32"


def test_logits_are_classification_head_of_features(rng):
    spec = ModelSpec(arch="small_cnn", feature_dim=6, filters=[4])
    model = build_classifier(spec, (8, 8, 1), 3, "t")
    head = model.get_layer("logits")
    head.dense.bias.assign(np.array([0.1, -0.2, 0.3], "float32"))
    inputs = rng.standard_normal((2, 8, 8, 1)).astype("float32")

    outputs = model(inputs, training=False)

    assert isinstance(head, ClassificationHead)
    kernel, bias = np.asarray(head.dense.kernel), np.asarray(head.dense.bias)
    expected = np.maximum(np.asarray(outputs["features"]), 0.0) @ kernel + bias
    np.testing.assert_allclose(outputs["logits"], expected, rtol=1e-5, atol=1e-5)


def test_dispatches_through_the_registry(monkeypatch):
    def toy_features(inputs, spec, name):
        return {"features": keras.layers.Dense(spec.feature_dim, name="features")(inputs), "hint": inputs}

    monkeypatch.setitem(classifier_module.FEATURE_BUILDERS, "toy", toy_features)

    model = build_classifier(ModelSpec(arch="toy", feature_dim=2), (3,), 5, "toy_net")

    assert _symbolic_output_shapes(model) == {"features": (None, 2), "logits": (None, 5), "hint": (None, 3)}


def test_unknown_arch_raises_naming_it():
    with pytest.raises(ValueError) as error:
        build_classifier(ModelSpec(arch="vgg16"), (16, 15, 1), 10, "teacher")

    message = str(error.value)
    assert "arch 'vgg16'" in message
    assert "one of " + ", ".join(sorted(FEATURE_BUILDERS)) in message
    assert "'teacher'" in message


def test_reloads_in_fresh_process_with_only_fdkd_tf_models_imported(tmp_path, rng):
    spec = ModelSpec(arch="small_cnn", feature_dim=8, filters=[4])
    model = build_classifier(spec, (16, 15, 1), 10, "pix")
    inputs = rng.standard_normal((2, 16, 15, 1)).astype("float32")
    expected = model(inputs, training=False)
    model.save(tmp_path / "pix.keras")
    np.save(tmp_path / "inputs.npy", inputs)
    script = (
        "import sys, numpy as np, keras\n"
        "import fdkd_tf.models\n"
        "model = keras.saving.load_model(sys.argv[1] + '/pix.keras')\n"
        "outputs = model(np.load(sys.argv[1] + '/inputs.npy'), training=False)\n"
        "print(model.name)\n"
        "np.save(sys.argv[1] + '/features.npy', np.asarray(outputs['features']))\n"
        "np.save(sys.argv[1] + '/logits.npy', np.asarray(outputs['logits']))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="3")

    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "pix"
    for key in ("features", "logits"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{key}.npy"), np.asarray(expected[key]))
