"""Video frames of prepared clips: choose T frames, decode, augment, normalise.

Preparation writes one JPEG per second of video (``frames/<clip>/0000.jpg``, ...).
The visual view of a clip is T of them (1 for AVE and CREMA-D, 3 for VGGSound-50):
random frames in training and evenly spaced ones at test. As in the reference
pipelines, training applies RandomResizedCrop(224) (area 8-100 %, aspect 3/4-4/3) and
a horizontal flip, the same crop and flip to all T frames of a clip; test resizes to
224 x 224. Both normalise with the ImageNet mean and std.
"""

from __future__ import annotations

import tensorflow as tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_AREA = (0.08, 1.0)
CROP_ASPECT = (3.0 / 4.0, 4.0 / 3.0)


def frame_path(frames_dir, index):
    """``<frames_dir>/<index:04d>.jpg``, the name preparation gives frame ``index``."""
    return tf.strings.join([frames_dir, "/", tf.strings.as_string(index, width=4, fill="0"), ".jpg"])


def select_frames(num_available, num_frames: int, training: bool, seed):
    """Indices of the T frames to read from a clip with ``num_available`` frames.

    Training draws T sorted indices uniformly (with repetition when the clip is
    shorter than T); test takes the T evenly spaced centres ``(2i + 1) n / 2T``, so a
    single frame is the middle one, as in the reference code.

    Args:
        num_available: scalar int32, at least 1.
        num_frames: T.
        training: random (True) or fixed (False) choice.
        seed: ``(2,)`` stateless seed (training only).

    Returns:
        ``(T,)`` int32 indices in ``[0, num_available)``.
    """
    if training:
        indices = tf.random.stateless_uniform([num_frames], seed, minval=0, maxval=num_available, dtype=tf.int32)
        return tf.sort(indices)
    centres = (2 * tf.range(num_frames) + 1) * num_available // (2 * num_frames)
    return tf.minimum(centres, num_available - 1)


def random_crop_box(image_shape, seed):
    """RandomResizedCrop's box ``(offset, size)``: area 8-100 %, aspect 3/4-4/3, 10 tries.

    Falls back to the whole image when no try fits (as ``use_image_if_no_bounding_boxes``).
    """
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        image_shape,
        bounding_boxes=tf.zeros([1, 0, 4]),
        seed=seed,
        area_range=CROP_AREA,
        aspect_ratio_range=CROP_ASPECT,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    return begin, size


def normalize(images):
    """uint8-range float images -> ImageNet-normalised float32."""
    images = tf.cast(images, tf.float32) / 255.0
    return (images - IMAGENET_MEAN) / IMAGENET_STD


def load_frames(frames_dir, num_available, num_frames: int, image_size: int, training: bool, seed):
    """Reads T frames of one clip as a normalised ``(T, size, size, 3)`` float32 tensor.

    Args:
        frames_dir: scalar string, the clip's frame directory.
        num_available: scalar int32, frames in it.
        num_frames: T.
        image_size: output height and width (224 in the paper).
        training: augment (random frames, crop, flip) or not.
        seed: ``(3, 2)`` int64 stateless seeds (frame choice, crop, flip).

    Returns:
        ``(T, image_size, image_size, 3)`` float32.
    """
    indices = select_frames(num_available, num_frames, training, seed[0])
    images = tf.map_fn(
        lambda index: tf.io.decode_jpeg(tf.io.read_file(frame_path(frames_dir, index)), channels=3),
        indices,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
    )  # (T, h, w, 3)
    if training:
        begin, size = random_crop_box(tf.shape(images)[1:], seed[1])
        images = tf.slice(images, tf.concat([[0], begin], 0), tf.concat([[num_frames], size], 0))
        images = tf.image.resize(images, (image_size, image_size), method="bilinear")
        flip = tf.random.stateless_uniform([], seed[2]) < 0.5
        images = tf.cond(flip, lambda: tf.reverse(images, axis=[2]), lambda: images)
    else:
        images = tf.image.resize(images, (image_size, image_size), method="bilinear")
    images = normalize(images)
    images.set_shape([num_frames, image_size, image_size, 3])
    return images
