"""NYU-Depth V2 loader on prepared fixture trees; preparation -> loading -> training end to end."""

from __future__ import annotations

import json
import os
import shutil

import keras
import numpy as np
import pytest

from nyudv2_fixtures import write_prepared_sample, write_raw_release
from fdkd_tf.config import (
    DataConfig,
    DistillConfig,
    ExperimentConfig,
    ExperimentMeta,
    ModelConfig,
    ModelSpec,
    TeacherStage,
    TrainConfig,
    load_config,
)
from fdkd_tf.config import ConfigError
from fdkd_tf.data import build_datasets, nyudv2
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.models import build_classifier
from fdkd_tf.models import classifier as classifier_module
from fdkd_tf.training.experiment import run_experiment

pytestmark = pytest.mark.filterwarnings("ignore:NYU-Depth V2 split sizes differ:UserWarning")

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
SIZE_WARNING = r"split sizes differ from the official release: train\.txt lists 6 \(official 795\), test\.txt lists 4 \(official 654\)"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared tree of 10 samples (6 train, 4 test) at 32 x 64, and its truth."""
    base = tmp_path_factory.mktemp("nyudv2")
    truth = write_raw_release(base / "raw")
    nyudv2.prepare_nyudv2(str(base / "raw"), str(base / "prepared"), progress=False)
    return str(base / "prepared"), truth


@pytest.fixture
def tree(prepared, tmp_path):
    """A private copy of the prepared tree that a test may damage."""
    root = str(tmp_path / "prepared")
    shutil.copytree(prepared[0], root)
    return root


def data_config(root, **overrides):
    values = dict(name="nyudv2", root=root, teacher="rgb", student="depth", image_size=32, batch_size=2, val_fraction=0.34)
    values.update(overrides)
    return DataConfig(**values)


def build(root, **overrides):
    return build_datasets(data_config(root, **overrides), seed=0)


def test_bundle_has_40_classes_paired_views_and_warns_about_split_sizes(prepared):
    root, _ = prepared

    with pytest.warns(UserWarning, match=SIZE_WARNING):
        bundle = build(root)

    assert bundle.num_classes == 40 and bundle.class_names == nyudv2.CLASS_NAMES
    assert bundle.sizes == {"train": 4, "val": 2, "test": 4}  # val carved out of the 6 official train samples
    assert bundle.modalities == {"teacher": "rgb", "student": "depth"}
    assert bundle.input_shapes == {"teacher": (None, None, 3), "student": (None, None, 1)}
    inputs, labels = next(iter(bundle.train))
    assert inputs["teacher"].shape == (2, 32, 32, 3) and inputs["student"].shape == (2, 32, 32, 1)
    assert labels.shape == (2, 32, 32) and labels.dtype == "int32"
    inputs, labels = next(iter(bundle.test))  # whole images at evaluation
    assert inputs["teacher"].shape == (2, 32, 64, 3) and labels.shape == (2, 32, 64)


def test_evaluation_views_are_normalised_whole_images(prepared):
    root, truth = prepared
    with pytest.warns(UserWarning):
        bundle = build(root, teacher="depth", student="rgb", ignore_label=100)

    # The parallel decoder keeps file order here even in a non-deterministic run.
    assert all(dataset.options().deterministic for dataset in bundle.ordered.values())
    samples = list(bundle.ordered["test"].as_numpy_iterator())

    assert len(samples) == 4
    for (inputs, labels), index in zip(samples, (2, 5, 7, 10)):  # test.txt order
        np.testing.assert_allclose(inputs["student"], (truth["rgb"][index - 1] / 255.0 - MEAN) / STD, atol=1e-5)
        depth_m = np.round(truth["depth"][index - 1].astype(np.float64) * 1000) / 1000
        np.testing.assert_allclose(inputs["teacher"][..., 0], depth_m / 10.0, atol=1e-6)
        expected = truth["labels"][index - 1].astype(np.int32)
        expected[expected == 255] = 100  # stored 255 -> data.ignore_label
        np.testing.assert_array_equal(labels, expected)


def test_training_crops_and_flips_are_shared_by_rgb_depth_and_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(nyudv2.pipeline, "TRAIN_SCALE_RANGE", (1.0, 1.0))  # crop and flip only: exact comparison
    root = str(tmp_path)
    rng = np.random.default_rng(0)
    labels = {}
    for index in range(1, 9):
        labels[index] = rng.integers(0, 40, size=(32, 64)).astype(np.uint8)
        rgb = np.repeat((labels[index] * 5)[..., None], 3, axis=-1)
        write_prepared_sample(root, index, rgb, labels[index].astype(np.uint16) * 100, labels[index])
    for split, indices in (("train", range(1, 7)), ("test", (7, 8))):
        with open(os.path.join(root, f"{split}.txt"), "w") as handle:
            handle.write("".join(f"{i:04d}\n" for i in indices))
    with open(os.path.join(root, "classes.txt"), "w") as handle:
        handle.write("\n".join(nyudv2.CLASS_NAMES) + "\n")
    with pytest.warns(UserWarning):
        bundle = build(root, val_fraction=0.2, batch_size=5)
    windows = {
        (i, c, flip): (np.flip(labels[i], 1) if flip else labels[i])[:, c : c + 32] for i in range(1, 7) for c in range(33) for flip in (0, 1)
    }

    flips = set()
    for _ in range(3):  # three epochs
        inputs, batch_labels = next(iter(bundle.train))
        for rgb, depth, label in zip(inputs["teacher"], inputs["student"], batch_labels.numpy()):
            np.testing.assert_allclose(depth[..., 0] * 10000 / 100, label, atol=1e-3)
            np.testing.assert_allclose(rgb[..., 0], (label * 5 / 255.0 - MEAN[0]) / STD[0], atol=1e-4)
            matches = [key for key, window in windows.items() if np.array_equal(window, label)]
            assert matches, "a training label map is not a (flipped) window of a training image"
            flips.add(matches[0][2])
    assert flips == {0, 1}


# ------------------------------------------------------------------ bad input


def test_missing_root_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="config key 'data.root' must be the prepared NYU-Depth V2 directory"):
        build(str(tmp_path / "nowhere"))


def test_missing_split_file_is_named(tree):
    os.remove(os.path.join(tree, "test.txt"))

    with pytest.raises(ConfigError, match=r"split file not found: .*test\.txt"):
        build(tree)


def test_bad_split_line_names_file_and_line_or_is_skipped(tree):
    with open(os.path.join(tree, "train.txt"), "a") as handle:
        handle.write("12a\n")

    with pytest.raises(ValueError, match=r"train\.txt, line 7: '12a' is not a sample id"):
        build(tree)
    with pytest.warns(UserWarning, match=r"skipped 1 bad NYU-Depth V2 entries .*train\.txt, line 7"):
        bundle = build(tree, on_bad_sample="skip")
    assert bundle.sizes["train"] + bundle.sizes["val"] == 6


def test_empty_image_names_the_file_or_is_skipped(tree):
    open(os.path.join(tree, "rgb", "0005.png"), "w").close()  # test sample, now empty

    with pytest.raises(ValueError, match=r"rgb/0005\.png: empty or not a PNG"):
        build(tree)
    with pytest.warns(UserWarning, match=r"skipped 1 bad NYU-Depth V2 entries"):
        bundle = build(tree, on_bad_sample="skip")
    assert bundle.sizes["test"] == 3


def test_label_outside_the_classes_names_the_file_or_is_skipped(tree):
    label = np.zeros((32, 64), np.uint8)
    label[3, 3] = 45
    nyudv2.write_png(nyudv2.sample_path(tree, "label", 4), label)

    with pytest.raises(ValueError, match=r"label/0004\.png: label 45 outside 0\.\.39 and 255"):
        build(tree)
    with pytest.warns(UserWarning, match="skipped 1 bad"):
        bundle = build(tree, on_bad_sample="skip")
    assert bundle.sizes["train"] + bundle.sizes["val"] == 5


def test_class_list_and_settings_are_checked(tree):
    with pytest.raises(ConfigError, match="data.image_size' must be a multiple of 32"):
        build(tree, image_size=40)
    with pytest.raises(ConfigError, match="data.ignore_label' must not be a class index"):
        build(tree, ignore_label=3)
    with pytest.raises(ConfigError, match="data.student' must be one of rgb, depth"):
        build(tree, student="audio")
    with open(os.path.join(tree, "classes.txt"), "w") as handle:
        handle.write("\n".join(nyudv2.CLASS_NAMES[:39]) + "\n")
    with pytest.raises(ValueError, match=r"classes\.txt lists 39 classes, NYU-Depth V2 has 40"):
        build(tree)


# ------------------------------------------------------------------ end to end


def test_config_loads_with_the_paper_settings(repo_root):
    config = load_config(os.path.join(repo_root, "configs", "nyudv2.yaml"))

    assert (config.data.name, config.data.batch_size, config.train.epochs) == ("nyudv2", 16, 50)
    assert (config.model.teacher.arch, config.model.student.arch) == ("deeplabv3plus", "deeplabv3plus")
    assert (config.train.optimizer, config.train.momentum, config.train.learning_rate, config.train.final_learning_rate) == ("sgd", 0.9, 1e-2, 1e-4)
    assert config.distill.direction == "both" and config.data.ignore_label == 255


def test_one_deeplab_distillation_step_for_each_student_modality(prepared):
    """rgb student <- depth teacher and depth student <- rgb teacher, real DeepLabV3+ (eager: no tracing)."""
    root, _ = prepared
    with pytest.warns(UserWarning):
        bundle = build(root)
    spec = ModelSpec(arch="deeplabv3plus")
    keras.utils.set_random_seed(0)
    models = {f"{role}_{key}": build_classifier(spec, bundle.input_shapes[key], 40, f"{role}_{key}") for role in ("teacher", "student") for key in ("teacher", "student")}
    directions = [
        Direction("depth", "student", models["student_student"], "teacher", models["teacher_teacher"]),
        Direction("rgb", "teacher", models["student_teacher"], "student", models["teacher_student"]),
    ]
    distiller = build_distiller(DistillConfig(method="fdcmkd", direction="both"), directions, 40, ignore_label=255)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), run_eagerly=True)
    before = [w.copy() for w in models["student_student"].get_weights()]
    inputs, labels = next(iter(bundle.train))

    logs = distiller.train_on_batch(inputs, labels, return_dict=True)

    assert {"depth_miou", "rgb_miou", "depth_low", "rgb_high", "depth_ce", "rgb_ce"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())
    assert any(not np.allclose(a, b) for a, b in zip(before, models["student_student"].get_weights()))


def tiny_dense_features(inputs, spec, name):
    hint = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name=f"{name}_conv")(inputs)
    features = keras.layers.Conv2D(spec.feature_dim, 3, strides=2, padding="same", name="features")(hint)
    return {"features": features, "hint": hint, "output_stride": 4}


def tiny_dense_config(root, arch: str, name: str, epochs: int) -> ExperimentConfig:
    """FD-CMKD, rgb teaching depth, on the tiny dense arch registered as ``arch``."""
    spec = ModelSpec(arch=arch, feature_dim=16)
    return ExperimentConfig(
        experiment=ExperimentMeta(name=name, seed=0),
        data=data_config(root),
        model=ModelConfig(teacher=spec, student=spec),
        teacher=TeacherStage(epochs=1),
        distill=DistillConfig(method="fdcmkd"),
        train=TrainConfig(epochs=epochs, verbose=0),
    )


def test_prepare_load_train_writes_miou_metrics(prepared, tmp_path, monkeypatch):
    """run_experiment end to end (teacher, distillation, selection, evaluation) on prepared data,
    a tiny dense arch standing in for DeepLabV3+ to keep it fast; rgb teaches depth."""
    root, _ = prepared
    monkeypatch.setitem(classifier_module.FEATURE_BUILDERS, "tiny_dense", tiny_dense_features)
    config = tiny_dense_config(root, "tiny_dense", "nyudv2-tiny", epochs=2)

    with pytest.warns(UserWarning, match=SIZE_WARNING):
        metrics = run_experiment(config, str(tmp_path / "run"))

    with open(tmp_path / "run" / "metrics.json", encoding="utf-8") as handle:
        saved = json.load(handle)
    assert saved == json.loads(json.dumps(metrics))
    assert set(saved["students"]) == {"depth"} and set(saved["teachers"]) == {"rgb"}
    for entry in (*saved["students"].values(), *saved["teachers"].values()):
        assert {"val_miou", "test_miou", "val_pixel_accuracy", "test_pixel_accuracy", "best_epoch"} <= set(entry)
        assert "test_accuracy" not in entry
        assert 0.0 <= entry["test_miou"] <= 1.0
    assert "mIoU" in saved["selection"]
    with open(tmp_path / "run" / "checkpoints" / "distill" / "state.json", encoding="utf-8") as handle:
        state = json.load(handle)
    best = state["best"]["depth"]
    assert saved["student"]["best_epoch"] == best["epoch"] in (1, 2)
    assert saved["student"]["val_miou"] == pytest.approx(best["val_miou"], abs=1e-5)
    assert os.path.exists(tmp_path / "run" / "student.keras")


def _np_dense_cross_entropy(labels, logits, ignore):
    """Per-sample mean CE over the pixels not labelled ``ignore`` (0 for none)."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    values = []
    for sample_labels, sample_log_probs in zip(labels, log_probs):
        valid = sample_labels != ignore
        picked = sample_log_probs[valid, sample_labels[valid]]
        values.append(-picked.mean() if picked.size else 0.0)
    return np.array(values)


def test_a_tuning_trial_keeps_ignored_pixels_out_of_every_loss(prepared, tmp_path, monkeypatch):
    """tools/tune.py's trials are built by the same stage builder as training, so
    data.ignore_label reaches them: one trial on the NYU fixture, whose labels hold 255s."""
    from fdkd_tf.tuning import hypermodel as hypermodel_module
    from fdkd_tf.tuning.search import run_search

    root, _ = prepared
    # The tiny dense arch stands in under a name the config accepts (best.yaml is validated).
    monkeypatch.setitem(classifier_module.FEATURE_BUILDERS, "deeplabv3plus", tiny_dense_features)
    built = []
    original_build = hypermodel_module.DistillerHyperModel.build
    monkeypatch.setattr(hypermodel_module.DistillerHyperModel, "build",
                        lambda self, hp: built.append(original_build(self, hp)) or built[-1])
    config = tiny_dense_config(root, "deeplabv3plus", "nyudv2-tune", epochs=1)
    with pytest.warns(UserWarning, match=SIZE_WARNING):
        result = run_search(config, str(tmp_path / "search"), max_trials=1, verbose=0)
    assert len(result["trials"]) == 1 and result["trials"][0]["objective"] is not None
    trial = built[-1]  # the trial's distiller, after its training
    assert trial.ignore_label == config.data.ignore_label == 255
    inputs, labels = next(iter(build(root).val))
    labels = labels.numpy()
    assert (labels == 255).any() and (labels != 255).any()
    _, terms, _ = trial.compute_terms(inputs, labels, training=False)
    logits = trial.directions[0].student(inputs["student"], training=False)["logits"].numpy()
    expected = _np_dense_cross_entropy(labels, logits, 255).mean()
    assert float(terms["ce"]) == pytest.approx(expected, rel=1e-4)
    with_ignored = _np_dense_cross_entropy(np.where(labels == 255, 0, labels), logits, -1).mean()
    assert abs(expected - with_ignored) > 1e-3  # the check could tell them apart
