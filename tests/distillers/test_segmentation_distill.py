"""Segmentation in the distillation core: CE with an ignore label, mean IoU, dense FD-CMKD / KD / Feat.

Everything is checked against numpy. The models are tiny BN-free dense networks
(two strided convs, stride 4, per-pixel logits upsampled to the input), registered
as a test-only arch, so a 2-replica step can be compared with one device.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.config import DistillConfig, ModelSpec
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.losses import cross_entropy
from fdkd_tf.models import classifier as classifier_module
from fdkd_tf.models import build_classifier
from fdkd_tf.training.experiment import evaluate_segmentation, segmentation_scores

CLASSES, IGNORE, SIZE, BATCH = 5, 255, 8, 4


def tiny_dense_features(inputs, spec, name):
    """BN-free (batch, H/4, W/4, feature_dim) map; hint = the stride-2 map."""
    hint = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name=f"{name}_conv")(inputs)
    features = keras.layers.Conv2D(spec.feature_dim, 3, strides=2, padding="same", name="features")(hint)
    return {"features": features, "hint": hint, "output_stride": 4}


@pytest.fixture(autouse=True)
def tiny_dense_arch(monkeypatch):
    monkeypatch.setitem(classifier_module.FEATURE_BUILDERS, "tiny_dense", tiny_dense_features)


def tiny_segmenter(channels, feature_dim, name, seed):
    keras.utils.set_random_seed(seed)
    return build_classifier(ModelSpec(arch="tiny_dense", feature_dim=feature_dim), (None, None, channels), CLASSES, name)


def make_segmentation_distiller(method, both=False, **settings):
    config = DistillConfig(method=method)
    for key, value in settings.items():
        setattr(getattr(config, method), key, value)
    directions = [Direction("depth", "student", tiny_segmenter(1, 16, "student_depth", 2), "teacher", tiny_segmenter(3, 16, "teacher_rgb", 1))]
    if both:
        directions.append(Direction("rgb", "teacher", tiny_segmenter(3, 16, "student_rgb", 4), "student", tiny_segmenter(1, 16, "teacher_depth", 3)))
    keras.utils.set_random_seed(5)
    return build_distiller(config, directions, CLASSES, ignore_label=IGNORE)


def segmentation_batch(seed=0, batch=BATCH):
    rng = np.random.default_rng(seed)
    inputs = {
        "teacher": rng.normal(size=(batch, SIZE, SIZE, 3)).astype("float32"),
        "student": rng.normal(size=(batch, SIZE, SIZE, 1)).astype("float32"),
    }
    labels = rng.integers(0, CLASSES, size=(batch, SIZE, SIZE)).astype("int32")
    labels[rng.random(labels.shape) < 0.2] = IGNORE
    return inputs, labels


# ------------------------------------------------------------------ numpy references


def np_log_softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_bilinear_resize(image, height, width):
    """Half-pixel-centre bilinear resize of (h, w, C), edges clamped (tf.image.resize's rule)."""
    in_h, in_w = image.shape[:2]

    def axis_weights(out_size, in_size):
        centres = (np.arange(out_size) + 0.5) * in_size / out_size - 0.5
        centres = np.clip(centres, 0, in_size - 1)
        low = np.floor(centres).astype(int)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, centres - low

    rows_low, rows_high, row_frac = axis_weights(height, in_h)
    cols_low, cols_high, col_frac = axis_weights(width, in_w)
    top = image[rows_low][:, cols_low] * (1 - col_frac)[None, :, None] + image[rows_low][:, cols_high] * col_frac[None, :, None]
    bottom = image[rows_high][:, cols_low] * (1 - col_frac)[None, :, None] + image[rows_high][:, cols_high] * col_frac[None, :, None]
    return top * (1 - row_frac)[:, None, None] + bottom * row_frac[:, None, None]


def np_cross_entropy(labels, logits, ignore):
    """Per-sample shares of the batch's pixel-mean CE (PyTorch ``CrossEntropyLoss(ignore_index=...)``):
    sample i's summed NLL over its valid pixels times B / (valid pixels in the batch)."""
    log_probs = np_log_softmax(logits.astype(np.float64))
    totals = []
    for sample_labels, sample_log_probs in zip(labels, log_probs):
        valid = sample_labels != ignore
        totals.append(-sum(sample_log_probs[i, j, sample_labels[i, j]] for i, j in zip(*np.nonzero(valid))))
    valid_pixels = max(int(np.sum(labels != ignore)), 1)
    return np.array(totals, dtype=np.float64) * len(labels) / valid_pixels


def np_mean_iou(labels, predictions, classes, ignore):
    valid = labels != ignore
    confusion = np.zeros((classes, classes))
    np.add.at(confusion, (labels[valid], predictions[valid]), 1)
    ious = []
    for c in range(classes):
        union = confusion[c].sum() + confusion[:, c].sum() - confusion[c, c]
        if union:
            ious.append(confusion[c, c] / union)
    return float(np.mean(ious)), confusion


# ------------------------------------------------------------------ cross-entropy


def test_cross_entropy_averages_over_the_valid_pixels_of_the_batch():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 4, 4, CLASSES)).astype("float32")
    labels = rng.integers(0, CLASSES, size=(3, 4, 4)).astype("int32")
    labels[0, :2] = IGNORE
    labels[2] = IGNORE  # a sample with no labelled pixel contributes 0

    got = cross_entropy(tf.constant(labels), tf.constant(logits), ignore_label=IGNORE).numpy()

    np.testing.assert_allclose(got, np_cross_entropy(labels, logits, IGNORE), rtol=1e-5, atol=1e-6)
    assert got[2] == 0.0


def test_cross_entropy_upsamples_low_resolution_logits_bilinearly():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 2, 3, CLASSES)).astype("float32")
    labels = rng.integers(0, CLASSES, size=(2, 8, 12)).astype("int32")
    labels[1, 3] = IGNORE
    upsampled = np.stack([np_bilinear_resize(sample, 8, 12) for sample in logits])

    got = cross_entropy(tf.constant(labels), tf.constant(logits), ignore_label=IGNORE).numpy()

    np.testing.assert_allclose(got, np_cross_entropy(labels, upsampled, IGNORE), rtol=1e-5, atol=1e-6)


def test_cross_entropy_keeps_classification_behaviour():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, CLASSES)).astype("float32")
    labels = rng.integers(0, CLASSES, size=6).astype("int32")
    expected = -np_log_softmax(logits.astype(np.float64))[np.arange(6), labels]

    np.testing.assert_allclose(cross_entropy(labels, logits).numpy(), expected, rtol=1e-5)
    # With an ignore label, an ignored sample gets 0 and the batch mean is the mean
    # over the labelled samples (as CrossEntropyLoss(ignore_index=...)).
    labels[0] = IGNORE
    got = cross_entropy(tf.constant(labels), tf.constant(logits), ignore_label=IGNORE).numpy()
    assert got[0] == 0.0
    assert got.mean() == pytest.approx(expected[1:].mean(), rel=1e-5)


# ------------------------------------------------------------------ names and metrics


def test_dense_students_report_miou_under_the_selection_name():
    forward = make_segmentation_distiller("fdcmkd")
    both = make_segmentation_distiller("fdcmkd", both=True)

    assert forward.accuracy_metric(forward.directions[0]) == "miou"
    assert {"miou", "low_miou", "high_miou"} <= {m.name for m in forward.method_metrics}
    assert not any(m.name.endswith("acc") for m in forward.method_metrics)
    assert [both.accuracy_metric(d) for d in both.directions] == ["depth_miou", "rgb_miou"]
    assert {"depth_low_miou", "rgb_high_miou"} <= {m.name for m in both.method_metrics}


def test_logged_miou_and_evaluation_match_numpy():
    distiller = make_segmentation_distiller("kd")
    distiller.compile(optimizer=keras.optimizers.SGD(0.0))
    batches = [segmentation_batch(seed) for seed in (10, 11)]
    dataset = tf.data.Dataset.from_tensor_slices(
        (
            {key: np.concatenate([b[0][key] for b in batches]) for key in ("teacher", "student")},
            np.concatenate([b[1] for b in batches]),
        )
    ).batch(BATCH)
    student = distiller.directions[0].student
    labels = np.concatenate([b[1] for b in batches])
    predictions = np.argmax(student.predict(np.concatenate([b[0]["student"] for b in batches]), verbose=0)["logits"], axis=-1)
    expected, confusion = np_mean_iou(labels, predictions, CLASSES, IGNORE)

    logs = distiller.evaluate(dataset, return_dict=True, verbose=0)
    scores = evaluate_segmentation(student, dataset, "student", CLASSES, IGNORE)

    assert logs["miou"] == pytest.approx(expected, abs=1e-6)
    assert scores["miou"] == pytest.approx(expected, abs=1e-9)
    assert scores["pixel_accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert segmentation_scores(confusion) == pytest.approx(scores)


def test_segmentation_scores_leave_out_absent_classes():
    confusion = np.zeros((4, 4))
    confusion[0, 0], confusion[0, 1], confusion[1, 1] = 3, 1, 2  # classes 2, 3 absent

    scores = segmentation_scores(confusion)

    assert scores["miou"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert scores["pixel_accuracy"] == pytest.approx(5 / 6)


# ------------------------------------------------------------------ dense loss terms


def test_kd_on_dense_logits_is_per_pixel_kd_averaged():
    distiller = make_segmentation_distiller("kd", temperature=2.0)
    inputs, labels = segmentation_batch(seed=3)
    _, terms, _ = distiller.compute_terms(inputs, tf.constant(labels), training=False)
    direction = distiller.directions[0]
    student = direction.student(inputs["student"])["logits"].numpy().astype(np.float64) / 2.0
    teacher = direction.teacher(inputs["teacher"])["logits"].numpy().astype(np.float64) / 2.0
    log_t, log_s = np_log_softmax(teacher), np_log_softmax(student)
    per_pixel = (np.exp(log_t) * (log_t - log_s)).sum(axis=-1) * 4.0  # (batch, H, W)

    assert float(terms["kd"]) == pytest.approx(per_pixel.mean(), rel=1e-4)
    assert float(terms["ce"]) == pytest.approx(np_cross_entropy(labels, student * 2.0, IGNORE).mean(), rel=1e-4)


def test_feat_on_dense_features_is_mse_over_pixels_and_channels():
    distiller = make_segmentation_distiller("feat")
    inputs, labels = segmentation_batch(seed=4)
    _, terms, _ = distiller.compute_terms(inputs, tf.constant(labels), training=False)
    direction = distiller.directions[0]
    student = direction.student(inputs["student"])["features"].numpy()
    teacher = direction.teacher(inputs["teacher"])["features"].numpy()

    assert student.shape == (BATCH, SIZE // 4, SIZE // 4, 16)
    assert float(terms["feat"]) == pytest.approx(np.mean((student - teacher) ** 2), rel=1e-5)


def np_low_band(features, cutoff=0.5):
    """Low band of each channel vector (bins 1..round(cutoff * D/2)), numpy rfft."""
    dim = features.shape[-1]
    spectrum = np.fft.rfft(features.astype(np.float64), axis=-1)
    keep = np.zeros(dim // 2 + 1)
    keep[1 : 1 + int(np.floor(cutoff * (dim // 2) + 0.5))] = 1
    return np.fft.irfft(spectrum * keep, n=dim, axis=-1)


def np_standardize(x):
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.maximum(np.linalg.norm(centred, axis=-1, keepdims=True), 1e-8)


def test_fdcmkd_decouples_channels_at_every_pixel():
    distiller = make_segmentation_distiller("fdcmkd")
    inputs, labels = segmentation_batch(seed=5)
    _, terms, logits = distiller.compute_terms(inputs, tf.constant(labels), training=False)
    direction = distiller.directions[0]
    student = direction.student(inputs["student"])["features"].numpy()  # (batch, 2, 2, 16)
    teacher = direction.teacher(inputs["teacher"])["features"].numpy()
    expected_low = np.mean((np_standardize(np_low_band(student)) - np_standardize(np_low_band(teacher))) ** 2)

    assert float(terms["low"]) == pytest.approx(expected_low, rel=1e-4)
    # Band heads predict at the feature resolution; their CE is taken on the label map.
    assert tuple(logits["low_miou"].shape) == (BATCH, SIZE // 4, SIZE // 4, CLASSES)
    modules = distiller.direction_modules[0]
    low_logits = modules["task_low"](modules["decoupling"](student)[0]).numpy()
    upsampled = np.stack([np_bilinear_resize(sample, SIZE, SIZE) for sample in low_logits])
    assert float(terms["task_low"]) == pytest.approx(np_cross_entropy(labels, upsampled, IGNORE).mean(), rel=1e-4)


# ------------------------------------------------------------------ distribution


def _train(strategy, initial_weights, steps=2):
    with strategy.scope():
        distiller = make_segmentation_distiller("fdcmkd")
        distiller.set_weights(initial_weights)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    inputs, labels = segmentation_batch(seed=7, batch=8)
    dataset = tf.data.Dataset.from_tensors((inputs, labels)).repeat(steps)
    history = distiller.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return distiller, {key: values[-1] for key, values in history.history.items()}


def test_two_replicas_match_one_device_for_segmentation(mirrored_strategy):
    initial = make_segmentation_distiller("fdcmkd").get_weights()
    single, single_logs = _train(tf.distribute.get_strategy(), initial)
    mirrored, mirrored_logs = _train(mirrored_strategy, initial)

    assert any(not np.allclose(a, b) for a, b in zip(single.get_weights(), initial))
    for one, two in zip(single.get_weights(), mirrored.get_weights()):
        np.testing.assert_allclose(two, one, atol=1e-5, rtol=0)
    assert {"miou", "low_miou", "high_miou", "ce", "low", "high"} <= set(single_logs)
    assert set(single_logs) == set(mirrored_logs)
    for key, value in single_logs.items():
        assert mirrored_logs[key] == pytest.approx(value, abs=1e-5), key
