"""Still images for the 2-D backbones: decode, augment, ImageNet-normalise.

Training follows the torchvision recipe the reference pipelines use:
RandomResizedCrop (area 8-100 % of the image, aspect ratio 3/4-4/3, resized to
``size x size``) and a horizontal flip with probability 1/2; test resizes the whole
image to ``size x size``. Both then normalise with the ImageNet mean and std.
Randomness is stateless (an explicit seed per image), so a pipeline replays
exactly under a fixed experiment seed.
"""

from __future__ import annotations

import tensorflow as tf

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_AREA_RANGE = (0.08, 1.0)
CROP_ASPECT_RANGE = (3.0 / 4.0, 4.0 / 3.0)
CROP_ATTEMPTS = 10

#: Leading bytes of the formats `tf.io.decode_image` reads (JPEG, PNG, GIF, BMP).
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


def has_image_signature(header: bytes) -> bool:
    """Whether ``header`` (the first bytes of a file) starts like a JPEG/PNG/GIF/BMP."""
    return any(header.startswith(signature) for signature in IMAGE_SIGNATURES)


def decode_rgb(encoded) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP bytes -> ``(H, W, 3)`` uint8 (first frame of a GIF)."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def normalize_imagenet(image) -> tf.Tensor:
    """0..255 RGB -> ``(x / 255 - mean) / std`` float32 with the ImageNet statistics."""
    image = tf.cast(image, tf.float32) / 255.0
    return (image - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


def random_resized_crop(image, size: int, seed) -> tf.Tensor:
    """RandomResizedCrop: a random box (area 8-100 %, aspect 3/4-4/3) resized to ``size``.

    Up to 10 boxes are drawn; when none fits inside the image the whole image is
    used (torchvision falls back to a centre crop instead).

    Args:
        image: ``(H, W, 3)`` uint8 or float.
        size: output height and width.
        seed: ``(2,)`` int stateless seed.

    Returns:
        ``(size, size, 3)`` float32 in the input's value range.
    """
    begin, box_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.zeros([1, 0, 4]),
        seed=seed,
        area_range=CROP_AREA_RANGE,
        aspect_ratio_range=CROP_ASPECT_RANGE,
        max_attempts=CROP_ATTEMPTS,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, box_size)
    return tf.image.resize(crop, (size, size), method="bilinear")


def train_transform(image, size: int, seed) -> tf.Tensor:
    """Training view: RandomResizedCrop(size), horizontal flip (p = 1/2), ImageNet normalisation.

    Args:
        image: ``(H, W, 3)`` uint8.
        size: output height and width.
        seed: ``(2, 2)`` int stateless seeds (crop, flip).

    Returns:
        ``(size, size, 3)`` float32.
    """
    image = random_resized_crop(image, size, seed[0])
    image = tf.image.stateless_random_flip_left_right(image, seed[1])
    image = normalize_imagenet(image)
    image.set_shape([size, size, 3])
    return image


def eval_transform(image, size: int) -> tf.Tensor:
    """Evaluation view: the whole image resized to ``size x size``, ImageNet normalisation."""
    image = tf.image.resize(image, (size, size), method="bilinear")
    image = normalize_imagenet(image)
    image.set_shape([size, size, 3])
    return image
