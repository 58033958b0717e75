"""Waveforms of prepared clips: wav header checks, decoding, tiling and cropping.

Preparation (`fdkd_tf.data.preparation`) writes every clip as a mono 16-bit PCM wav
at the dataset's reference rate, so the loaders never resample: they check the rate
once per clip when the pipeline is built (`check_wav`, header only) and again when
decoding (`decode_wav`), and stop with the file name if it differs.
"""

from __future__ import annotations

import wave

import numpy as np
import tensorflow as tf


class BadClipError(ValueError):
    """A prepared clip cannot be used; the message names the file and the fix."""


def check_wav(path: str, sample_rate: int) -> int:
    """Reads a wav header and checks it is a non-empty mono clip at ``sample_rate``.

    Args:
        path: wav file.
        sample_rate: the rate the dataset's preparation writes.

    Returns:
        The number of samples.

    Raises:
        BadClipError: naming ``path`` when the file is missing, unreadable, empty,
            not mono or at another rate.
    """
    try:
        with wave.open(path, "rb") as handle:
            channels, rate, frames = handle.getnchannels(), handle.getframerate(), handle.getnframes()
    except FileNotFoundError:
        raise BadClipError(f"audio file not found: {path}; rerun the dataset's tools/prepare_*.py") from None
    except (wave.Error, EOFError, OSError) as error:
        raise BadClipError(f"unreadable wav file {path}: {error}; rerun the dataset's tools/prepare_*.py") from None
    if frames == 0:
        raise BadClipError(f"empty wav file {path} (0 samples); remove the clip or rerun its preparation")
    if channels != 1:
        raise BadClipError(f"wav file {path} has {channels} channels, expected mono; rerun the preparation")
    if rate != sample_rate:
        raise BadClipError(
            f"wav file {path} is at {rate} Hz, expected {sample_rate} Hz; the loaders do not "
            "resample, rerun the dataset's tools/prepare_*.py (it resamples)"
        )
    return frames


def write_wav(path: str, waveform: np.ndarray, sample_rate: int) -> None:
    """Writes mono float samples in [-1, 1] as 16-bit PCM (not atomic; see preparation)."""
    pcm = np.clip(np.round(np.asarray(waveform, np.float64) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(pcm.tobytes())


def decode_wav(path, sample_rate: int):
    """Reads and decodes a mono wav in a `tf.data` map; fails if its rate differs.

    Args:
        path: scalar string tensor.
        sample_rate: expected rate.

    Returns:
        ``(samples,)`` float32 in [-1, 1].
    """
    audio, rate = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1)
    check = tf.debugging.Assert(
        tf.equal(rate, sample_rate), ["wav sample rate differs from the dataset's", path, rate, "expected", sample_rate]
    )
    with tf.control_dependencies([check]):
        return tf.identity(audio[:, 0])


def tile_waveform(waveform, num_samples: int):
    """Repeats a 1-D clip until it has at least ``num_samples`` samples (whole repeats).

    Args:
        waveform: ``(samples,)`` float32, non-empty.
        num_samples: minimum length.

    Returns:
        ``(k * samples,)`` with ``k = ceil(num_samples / samples)``.
    """
    length = tf.shape(waveform)[0]
    repeats = (num_samples + length - 1) // length
    return tf.tile(waveform, [repeats])


def random_crop(waveform, num_samples: int, seed):
    """A ``num_samples`` window at a uniformly random start (stateless, ``seed`` (2,))."""
    start = tf.random.stateless_uniform(
        [], seed, minval=0, maxval=tf.shape(waveform)[0] - num_samples + 1, dtype=tf.int32
    )
    return waveform[start : start + num_samples]


def center_crop(waveform, num_samples: int):
    """The ``num_samples`` window in the middle of the clip (the fixed test crop)."""
    start = (tf.shape(waveform)[0] - num_samples) // 2
    return waveform[start : start + num_samples]
