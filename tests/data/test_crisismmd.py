import math
import os
import shutil
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from crisismmd_fixtures import IMAGE_SHAPES, SPLIT_SIZES, expected_token_ids, make_release, write_vocabulary

from fdkd_tf.config import ConfigError, DataConfig, load_config
from fdkd_tf.data import build_datasets
from fdkd_tf.data.crisismmd import DatasetWarning, TASK_CLASSES, prepare_crisismmd
from fdkd_tf.data.images import IMAGENET_MEAN, IMAGENET_STD
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.models import build_classifier
from fdkd_tf.training.experiment import evaluate_accuracy
from fdkd_tf.training.schedules import build_optimizer

IMAGE_SIZE, MAX_LENGTH = 32, 16
# The fixture splits are far smaller than the official ones; tests that check the
# warning use pytest.warns, which sees it regardless of this filter.
pytestmark = pytest.mark.filterwarnings("ignore:CrisisMMD .* official benchmark split")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    base = tmp_path_factory.mktemp("crisismmd")
    release = make_release(base / "raw")
    prepare_crisismmd(str(base / "raw"), str(base / "data"), progress=False)
    return {"root": str(base / "data"), "vocabulary": write_vocabulary(base / "vocab.txt"), "rows": release["rows"]}


@pytest.fixture
def data_copy(prepared, tmp_path):
    """A private copy of the prepared directory, for tests that damage it."""
    root = str(tmp_path / "data")
    shutil.copytree(prepared["root"], root)
    return root


def data_config(prepared, root=None, **overrides):
    settings = dict(
        name="crisismmd",
        root=root or prepared["root"],
        task="informative",
        teacher="image",
        student="text",
        vocabulary=prepared["vocabulary"],
        image_size=IMAGE_SIZE,
        max_length=MAX_LENGTH,
        batch_size=4,
    )
    settings.update(overrides)
    return DataConfig(**settings)


def build_quietly(config, seed=0, deterministic=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        return build_datasets(config, seed=seed, deterministic=deterministic)


@pytest.mark.parametrize("task", ["informative", "humanitarian"])
def test_bundle_classes_sizes_and_views(prepared, task):
    with pytest.warns(DatasetWarning, match=f"{task} train: 8 samples .* a subset of the"):
        bundle = build_datasets(data_config(prepared, task=task), seed=0, deterministic=True)

    assert bundle.class_names == TASK_CLASSES[task] and bundle.num_classes == len(TASK_CLASSES[task])
    assert bundle.sizes == {"train": 8, "val": 4, "test": 4}
    assert bundle.input_shapes == {"teacher": (IMAGE_SIZE, IMAGE_SIZE, 3), "student": (MAX_LENGTH,)}
    assert bundle.modalities == {"teacher": "image", "student": "text"}
    inputs, labels = next(iter(bundle.train))
    assert inputs["teacher"].dtype == tf.float32 and tuple(inputs["teacher"].shape) == (4, IMAGE_SIZE, IMAGE_SIZE, 3)
    assert inputs["student"].dtype == tf.int32 and tuple(inputs["student"].shape) == (4, MAX_LENGTH)
    assert labels.dtype == tf.int32
    for split, official in (("train", "train"), ("val", "dev"), ("test", "test")):
        expected = [TASK_CLASSES[task].index(row["label"]) for row in prepared["rows"][task, official]]
        got = [int(label) for _, label in bundle.ordered[split]]
        assert got == expected


def test_eval_views_match_an_independent_computation(prepared):
    bundle = build_quietly(data_config(prepared))
    rows = prepared["rows"]["informative", "test"]

    for row, (inputs, _) in zip(rows, bundle.ordered["test"]):
        assert inputs["student"].numpy().tolist() == expected_token_ids(row["tweet_text"], MAX_LENGTH)
        image = inputs["teacher"].numpy()
        assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        if IMAGE_SHAPES[row["index"] % len(IMAGE_SHAPES)] == (IMAGE_SIZE, IMAGE_SIZE):  # no resize
            pixels = tf.io.decode_jpeg(tf.io.read_file(os.path.join(prepared["root"], row["image"]))).numpy()
            expected = (pixels / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
            np.testing.assert_allclose(image, expected, atol=1e-5)


def test_views_follow_the_config_roles(prepared):
    bundle = build_quietly(data_config(prepared, teacher="text", student="image"))

    assert bundle.input_shapes == {"teacher": (MAX_LENGTH,), "student": (IMAGE_SIZE, IMAGE_SIZE, 3)}
    assert bundle.representative_inputs("test", "student", 3).shape == (3, IMAGE_SIZE, IMAGE_SIZE, 3)


def _epoch(dataset):
    return [(x["teacher"].numpy(), x["student"].numpy(), y.numpy()) for x, y in dataset]


def test_training_pipeline_is_reproducible_and_reshuffles(prepared):
    config = data_config(prepared)
    first = build_quietly(config, seed=3).train
    again = build_quietly(config, seed=3).train

    epoch_one, epoch_two = _epoch(first), _epoch(first)
    for (image_a, text_a, label_a), (image_b, text_b, label_b) in zip(epoch_one, _epoch(again)):
        np.testing.assert_array_equal(image_a, image_b)
        np.testing.assert_array_equal(text_a, text_b)
        np.testing.assert_array_equal(label_a, label_b)
    order_one = [tuple(text[:, 1]) for _, text, _ in epoch_one]
    images_one = np.concatenate([image for image, _, _ in epoch_one])
    images_two = np.concatenate([image for image, _, _ in epoch_two])
    assert order_one != [tuple(text[:, 1]) for _, text, _ in epoch_two] or not np.allclose(images_one, images_two)
    assert np.isfinite(images_one).all()
    # augmented crops are resized to the configured size and keep the normalised range
    low = (0 - np.max(IMAGENET_MEAN)) / np.min(IMAGENET_STD)
    high = (1 - np.min(IMAGENET_MEAN)) / np.min(IMAGENET_STD)
    assert images_one.min() >= low - 1e-4 and images_one.max() <= high + 1e-4


# --------------------------------------------------------------------------- bad input


def _rewrite_line(root, name, number, edit):
    path = os.path.join(root, name)
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    lines[number - 1] = edit(lines[number - 1])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    return path


def _image_of_line(root, name, number):
    with open(os.path.join(root, name), encoding="utf-8") as handle:
        return os.path.join(root, handle.read().split("\n")[number - 1].split("\t")[2])


def drop_a_field(root):
    _rewrite_line(root, "informative_train.tsv", 3, lambda line: line.rsplit("\t", 1)[0])
    return r"informative_train.tsv:3: expected 5 tab-separated fields, got 4"


def unknown_label(root):
    _rewrite_line(root, "informative_train.tsv", 4, lambda line: line.replace("\tinformative\t", "\tflooding\t").replace("\tnot_informative\t", "\tflooding\t"))
    return r"informative_train.tsv:4: label 'flooding' is not one of the classes informative, not_informative"


def unreadable_image(root):
    image = _image_of_line(root, "informative_train.tsv", 5)
    with open(image, "wb") as handle:
        handle.write(b"this is not an image")
    return rf"{image} \(line 5 of its split file\): image file is not a JPEG/PNG/GIF/BMP image"


def empty_image(root):
    image = _image_of_line(root, "informative_train.tsv", 6)
    open(image, "wb").close()
    return rf"{image} \(line 6 of its split file\): image file is empty"


def missing_image(root):
    image = _image_of_line(root, "informative_train.tsv", 7)
    os.remove(image)
    return rf"{image} \(line 7 of its split file\): image file not found"


@pytest.mark.parametrize("damage", [drop_a_field, unknown_label, unreadable_image, empty_image, missing_image])
def test_bad_samples_raise_with_file_and_line_or_are_skipped_and_counted(prepared, data_copy, damage):
    message = damage(data_copy)

    with pytest.raises(ValueError, match=message + ".*data.on_bad_sample: skip"):
        build_quietly(data_config(prepared, root=data_copy))

    with pytest.warns(DatasetWarning, match=r"informative train: skipped 1 bad samples .*" + message):
        bundle = build_datasets(data_config(prepared, root=data_copy, on_bad_sample="skip"), seed=0)
    assert bundle.sizes["train"] == SPLIT_SIZES["train"] - 1
    assert sum(int(tf.shape(labels)[0]) for _, labels in bundle.train) == SPLIT_SIZES["train"] - 1


def test_a_wrong_header_is_an_error_even_when_skipping(prepared, data_copy):
    _rewrite_line(data_copy, "informative_test.tsv", 1, lambda line: line.replace("label", "class"))

    with pytest.raises(ValueError, match=r"informative_test.tsv:1: header must be"):
        build_quietly(data_config(prepared, root=data_copy, on_bad_sample="skip"))


def test_missing_root_and_split_file_are_named(prepared, data_copy, tmp_path):
    with pytest.raises(ConfigError, match=r"data.root.*not a directory.*prepare_crisismmd"):
        build_quietly(data_config(prepared, root=str(tmp_path / "absent")))
    os.remove(os.path.join(data_copy, "informative_dev.tsv"))
    with pytest.raises(ConfigError, match=r"split file not found: .*informative_dev.tsv.*prepare_crisismmd"):
        build_quietly(data_config(prepared, root=data_copy))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"task": "damage"}, "data.task' must be one of informative, humanitarian"),
        ({"student": "audio"}, "data.student' must be one of text, image"),
        ({"vocabulary": None}, "data.vocabulary' must name the BERT vocabulary"),
    ],
)
def test_bad_data_keys_are_named(prepared, overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_quietly(data_config(prepared, **overrides))


# --------------------------------------------------------------------------- training


def test_config_holds_the_paper_setting(repo_root):
    config = load_config(os.path.join(repo_root, "configs", "crisismmd.yaml"))

    assert (config.data.name, config.data.task, config.data.teacher, config.data.student) == (
        "crisismmd", "informative", "image", "text",
    )  # fmt: skip
    assert (config.model.teacher.arch, config.model.student.arch, config.model.student.size) == (
        "mobilenet_v2", "bert", "base",
    )  # fmt: skip
    assert (config.train.epochs, config.teacher.epochs, config.data.batch_size) == (20, 100, 64)
    assert (config.train.optimizer, config.train.momentum, config.train.schedule) == ("sgd", 0.9, "poly")
    assert (config.train.learning_rate, config.train.final_learning_rate, config.train.power) == (1e-2, 1e-4, 0.9)


def _one_step(repo_root, prepared, method, overrides):
    """Builds data, models and the distiller from configs/crisismmd.yaml and trains one step."""
    config = load_config(
        os.path.join(repo_root, "configs", "crisismmd.yaml"),
        [
            f"data.root={prepared['root']}",
            f"data.vocabulary={prepared['vocabulary']}",
            f"data.image_size={IMAGE_SIZE}",
            f"data.max_length={MAX_LENGTH}",
            "data.batch_size=4",
            f"distill.method={method}",
            "train.verbose=0",
            *overrides,
        ],
    )
    keras.utils.set_random_seed(0)
    bundle = build_quietly(config.data)
    teacher = build_classifier(config.model.teacher, bundle.input_shapes["teacher"], bundle.num_classes, "teacher")
    student = build_classifier(config.model.student, bundle.input_shapes["student"], bundle.num_classes, "student")
    direction = Direction(bundle.modalities["student"], "student", student, "teacher", teacher)
    distiller = build_distiller(config.distill, [direction], bundle.num_classes)
    distiller.compile(optimizer=build_optimizer(config.train, math.ceil(bundle.sizes["train"] / 4), config.train.epochs))
    before = [np.array(w) for w in student.trainable_weights]
    history = distiller.fit(bundle.train.take(1), epochs=1, verbose=0).history
    changed = [not np.array_equal(b, np.array(w)) for b, w in zip(before, student.trainable_weights)]
    return bundle, student, history, changed


def test_one_step_text_student_from_image_teacher(repo_root, prepared):
    bundle, student, history, changed = _one_step(
        repo_root, prepared, "fdcmkd", ["model.student.size=tiny", "model.student.preset=null"]
    )

    assert np.isfinite(history["loss"][0]) and history["low"][0] > 0 and history["high"][0] > 0
    assert all(changed)  # every BERT weight, the padding mask included in the graph, learned
    assert 0.0 <= evaluate_accuracy(student, bundle.val, "student") <= 1.0


def test_one_step_image_student_from_text_teacher(repo_root, prepared):
    swap = [
        "data.teacher=text",
        "data.student=image",
        "model.teacher.arch=bert",
        "model.teacher.size=tiny",
        "model.teacher.preset=null",
        "model.student.arch=mobilenet_v2",
        "model.student.size=base",
        "model.student.preset=null",
    ]
    _, _, history, changed = _one_step(repo_root, prepared, "kd", swap)

    assert np.isfinite(history["loss"][0]) and history["kd"][0] >= 0
    assert sum(changed) > 0.9 * len(changed)


def test_a_vocabulary_larger_than_random_bert_embeddings_warns(prepared, tmp_path):
    from crisismmd_fixtures import VOCABULARY

    from fdkd_tf.models.bert import RANDOM_INIT_VOCABULARY_SIZE

    large = tmp_path / "large_vocab.txt"
    extra = [f"w{i}" for i in range(RANDOM_INIT_VOCABULARY_SIZE + 1 - len(VOCABULARY))]
    large.write_text("\n".join(VOCABULARY + extra) + "\n", encoding="utf-8")

    with pytest.warns(DatasetWarning, match=f"{RANDOM_INIT_VOCABULARY_SIZE + 1} tokens, more than the {RANDOM_INIT_VOCABULARY_SIZE}"):
        build_datasets(data_config(prepared, vocabulary=str(large)), seed=0)
