"""Reading audio files: mono, float32, at the analysis sample rate, with one-line errors.

:func:`read_audio` accepts anything libsndfile reads (WAV of any subtype, FLAC, OGG/Vorbis, AIFF,
...), mixes the channels to mono by averaging them, and resamples to the analysis rate with soxr
(``librosa.resample(..., res_type='soxr_hq')``). Resampling is skipped when the rates already agree,
so a 16 kHz file costs one read.

Memory: the decoded signal is held once as float32 (4 bytes per sample, 230 MB for one hour at
16 kHz). Multichannel files are decoded in blocks of about ten seconds and averaged into the mono
buffer as they come, so a stereo file never needs the full two-channel array.
"""

import logging
import os

import numpy as np
import soundfile as sf

from ..exceptions import InputError

__all__ = ["read_audio", "audio_duration"]

log = logging.getLogger(__name__)

_BLOCK_SECONDS = 10.0


def _open_info(path):
    """Return ``sf.info(path)`` or raise :class:`InputError` with a one-line reason."""
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not an audio file")
    if not os.path.exists(path):
        raise InputError(path, "file not found")
    try:
        return sf.info(path)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise InputError(path, f"not a readable audio file ({_short_reason(exc)})") from None


def _short_reason(exc):
    """Reduce a soundfile error to its last clause (``"Format not recognised."``)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # libsndfile messages look like "Error opening '<path>': <reason>"; drop the path part.
    if "': " in text:
        text = text.rsplit("': ", 1)[1]
    return text.rstrip(".")


def audio_duration(path):
    """Return the duration of an audio file in seconds, from its header only.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file.

    Returns
    -------
    float
        ``frames / samplerate`` as reported by libsndfile (no samples are decoded).

    Raises
    ------
    InputError
        The file is missing or is not a readable audio file.
    """
    path = os.fspath(path)
    info = _open_info(path)
    return info.frames / info.samplerate


def read_audio(path, sample_rate=16000, min_duration=0.03):
    """Read an audio file as mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file in any format libsndfile reads.
    sample_rate : int, default=16000
        Rate (Hz) of the returned signal. The file is resampled with soxr ('soxr_hq') when its own
        rate differs; when the rates agree the samples are returned as decoded.
    min_duration : float, default=0.03
        Shortest accepted duration in seconds (one analysis window, 30 ms by default).

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype float32
        The signal, channels averaged, at ``sample_rate``; full scale is [-1, 1].
    file_rate : int
        The file's own sample rate (Hz), before resampling.

    Raises
    ------
    InputError
        One line ``"<path>: <problem>"`` when the file is missing, is not readable audio, has
        no samples, is shorter than ``min_duration``, contains NaN or infinite samples (float
        WAVs can), or is digital silence (every sample zero).

    Examples
    --------
    >>> y, file_rate = read_audio("examples/dev00.wav")  # doctest: +SKIP
    >>> y.shape, file_rate  # doctest: +SKIP
    ((480000,), 16000)
    """
    path = os.fspath(path)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int. Got {sample_rate} instead.")
    info = _open_info(path)
    file_rate = int(info.samplerate)
    if info.frames == 0:
        raise InputError(path, "audio has no samples")
    try:
        y = _read_mono(path, info)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise InputError(path, f"not a readable audio file ({_short_reason(exc)})") from None
    if y.size == 0:
        raise InputError(path, "audio has no samples")
    duration = y.size / file_rate
    if duration < min_duration:
        raise InputError(
            path,
            f"audio is shorter than one analysis window ({duration:.4f} s < {min_duration:g} s)",
        )
    bad = y.size - int(np.count_nonzero(np.isfinite(y)))
    if bad:
        raise InputError(path, f"audio has {bad} non-finite samples (NaN or inf) of {y.size}")
    if not np.any(y):
        raise InputError(path, "audio is silent (every sample is zero)")
    if file_rate != sample_rate:
        import librosa

        log.debug("%s: resampling %d Hz -> %d Hz", path, file_rate, sample_rate)
        y = librosa.resample(y, orig_sr=file_rate, target_sr=sample_rate, res_type="soxr_hq")
        y = np.ascontiguousarray(y, dtype=np.float32)
    log.info("%s: %.2f s, %d channel(s), %d Hz", path, duration, info.channels, file_rate)
    return y, file_rate


def _read_mono(path, info):
    """Decode ``path`` to a mono float32 array, averaging channels block by block."""
    if info.channels == 1:
        y = sf.read(path, dtype="float32", always_2d=False)[0]
        return np.ascontiguousarray(y.reshape(-1), dtype=np.float32)
    block = max(1, int(_BLOCK_SECONDS * info.samplerate))
    out = np.empty(info.frames, dtype=np.float32)  # header count; trimmed or grown below
    n = 0
    with sf.SoundFile(path) as fh:
        while True:
            data = fh.read(block, dtype="float32", always_2d=True)
            if data.shape[0] == 0:
                break
            if n + data.shape[0] > out.size:
                out = np.concatenate([out[:n], np.empty(data.shape[0], dtype=np.float32)])
            out[n:n + data.shape[0]] = data.mean(axis=1, dtype=np.float32)
            n += data.shape[0]
    return out[:n]
