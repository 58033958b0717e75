"""What each kind of manifest cell becomes inside a `tf.data` map.

- ``audio`` (wav, flac, mp3, ogg): decoded by PyAV, mixed to mono and resampled to
  16 kHz, tiled to two crops of ``data.audio_samples`` (default 5 s) and cropped
  (random in training, centred at test), then the ``vggsound`` log spectrogram
  ``(129, T, 1)`` of `fdkd_tf.layers.AudioFrontend`, which export can put in front
  of an audio student.
- ``image``: decoded, RandomResizedCrop + flip in training, resized at test, ImageNet
  normalisation (`fdkd_tf.data.images`), ``(image_size, image_size, 3)``.
- ``video``: one frame per second decoded by PyAV; ``data.num_frames`` of them (default
  1; random in training, evenly spaced centres at test) through the image view,
  ``(H, W, 3)`` or ``(T, H, W, 3)``.
- ``npy``: the array as float32, its shape as stored.
- ``text``: BERT token ids ``(max_length,)`` int32, tokenized once when the pipeline
  is built (``data.vocabulary``), as for CrisisMMD.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fdkd_tf.data.audio import center_crop, random_crop, tile_waveform
from fdkd_tf.data.frames import select_frames
from fdkd_tf.data.images import decode_rgb, eval_transform, train_transform
from fdkd_tf.layers.audio_frontend import VGGSOUND_NUM_SAMPLES, spectrogram_shape, vggsound_spectrogram

SAMPLE_RATE = 16_000  # the vggsound front end's rate; PyAV resamples every file to it
AUDIO_FRONTEND = "vggsound"
DEFAULT_FRAMES = 1
#: Kinds whose view is the same every epoch (no random crop or augmentation).
STABLE_KINDS = ("npy", "text")


def audio_samples(data_cfg) -> int:
    """The length of the crop the audio view's spectrogram is computed from."""
    return data_cfg.audio_samples or VGGSOUND_NUM_SAMPLES


def view_shape(kind: str, data_cfg, array_shape=None) -> tuple:
    """The per-sample input shape of a column of ``kind``."""
    image = (data_cfg.image_size, data_cfg.image_size, 3)
    num_frames = data_cfg.num_frames or DEFAULT_FRAMES
    return {
        "audio": lambda: spectrogram_shape(AUDIO_FRONTEND, audio_samples(data_cfg)),
        "image": lambda: image,
        "video": lambda: image if num_frames == 1 else (num_frames, *image),
        "npy": lambda: tuple(array_shape),
        "text": lambda: (data_cfg.max_length,),
    }[kind]()


def decode_audio_file(path) -> np.ndarray:
    """``(samples,)`` float32 mono at 16 kHz of a media file (numpy side of a map)."""
    from fdkd_tf.data.clips import decode_audio

    return decode_audio(path.decode() if isinstance(path, bytes) else str(path), SAMPLE_RATE)


def decode_video_file(path) -> np.ndarray:
    """``(seconds, H, W, 3)`` uint8: one frame per second of a video file."""
    from fdkd_tf.data.clips import decode_frames

    return np.stack(decode_frames(path.decode() if isinstance(path, bytes) else str(path)))


def load_npy(path) -> np.ndarray:
    return np.load(path.decode() if isinstance(path, bytes) else str(path), allow_pickle=False).astype(np.float32)


def crop_waveform(waveform, num_samples: int, training: bool, seed):
    """Tiles a clip to two crops and takes the training (random) or test (centred) crop."""
    waveform = tile_waveform(waveform, 2 * num_samples)
    return random_crop(waveform, num_samples, seed) if training else center_crop(waveform, num_samples)


def audio_view(path, num_samples: int, training: bool, seed):
    waveform = tf.numpy_function(decode_audio_file, [path], tf.float32, stateful=False)
    waveform.set_shape([None])
    spectrogram = vggsound_spectrogram(crop_waveform(waveform, num_samples, training, seed))[..., None]
    spectrogram.set_shape(spectrogram_shape(AUDIO_FRONTEND, num_samples))
    return spectrogram


def image_view(image, size: int, training: bool, seeds):
    return train_transform(image, size, seeds) if training else eval_transform(image, size)


def video_view(path, num_frames: int, size: int, training: bool, seeds):
    frames = tf.numpy_function(decode_video_file, [path], tf.uint8, stateful=False)
    frames.set_shape([None, None, None, 3])
    chosen = tf.gather(frames, select_frames(tf.shape(frames)[0], num_frames, training, seeds[0]))
    views = [image_view(chosen[i], size, training, seeds[1:]) for i in range(num_frames)]
    return views[0] if num_frames == 1 else tf.stack(views)


def cell_view(kind: str, cell, column_shape, data_cfg, training: bool, seeds):
    """One cell (a path, or token ids for text) -> its view tensor.

    Args:
        kind: the column's kind.
        cell: scalar string path, or ``(max_length,)`` int32 token ids (text).
        column_shape: the stored array shape (``npy``).
        data_cfg: the ``data`` section (image size, frames, audio length).
        training: random crops and flips (True) or the fixed test view.
        seeds: ``(3, 2)`` int64 stateless seeds of this element.
    """
    if kind == "text":
        return cell
    if kind == "npy":
        array = tf.numpy_function(load_npy, [cell], tf.float32, stateful=False)
        array.set_shape(column_shape)
        return array
    if kind == "audio":
        return audio_view(cell, audio_samples(data_cfg), training, seeds[0])
    if kind == "image":
        return image_view(decode_rgb(tf.io.read_file(cell)), data_cfg.image_size, training, seeds[1:])
    return video_view(cell, data_cfg.num_frames or DEFAULT_FRAMES, data_cfg.image_size, training, seeds)
