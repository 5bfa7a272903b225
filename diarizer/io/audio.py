"""Reading audio files: mono, float32, at the analysis sample rate, with one-line errors.

:func:`read_audio` accepts anything libsndfile reads (WAV of any subtype, FLAC, OGG/Vorbis, AIFF,
...), mixes the channels to mono by averaging them, and resamples to the analysis rate with soxr
(the result of ``librosa.resample(..., res_type='soxr_hq')``, without importing librosa).
Resampling is skipped when the rates already agree.

Memory: the decoded signal is held once as float32 (4 bytes per sample, 230 MB for one hour at
16 kHz). The file is decoded in blocks of about ten seconds (:class:`AudioStream`), averaged and
resampled block by block into the output buffer, so neither the multichannel array nor a second
copy of the signal is ever needed.

:class:`AudioStream` reads the same signal block by block without ever holding it whole (issue 10):
the channels are averaged per block, the blocks are resampled with a ``soxr.ResampleStream`` of the
same quality ('HQ' = librosa's 'soxr_hq'), the result is trimmed or zero-padded at the end to
``ceil(n * sample_rate / file_rate)`` samples exactly as ``librosa.resample(fix=True)`` does, and
every check is made on the fly. The samples are bit-identical to averaging the whole file and
calling ``librosa.resample(..., res_type='soxr_hq')`` (tests check it for several rates, channel
counts and block sizes), which is what :func:`read_audio` did before it was built on this class.
"""

import logging
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from ..exceptions import InputError

__all__ = ["read_audio", "audio_duration", "AudioStream", "AudioInfo"]

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


def _mono(data):
    """The channels of a decoded ``(n, channels)`` float32 block averaged, contiguous."""
    if data.shape[1] == 1:
        return np.ascontiguousarray(data[:, 0])
    return data.mean(axis=1, dtype=np.float32)


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


def read_audio(path, sample_rate=16000, min_duration=0.03, gain=1.0):
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
    gain : float, default=1.0
        Factor applied to every sample (see :class:`AudioStream`).

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
    stream = AudioStream(path, sample_rate, min_duration, gain=gain)
    y = np.empty(max(1, stream.expected_samples()), dtype=np.float32)  # header size; grown below
    n = 0
    for block in stream:
        if n + block.size > y.size:
            y = np.concatenate([y[:n], np.empty(max(block.size, y.size // 4), np.float32)])
        y[n:n + block.size] = block
        n += block.size
    return (y if n == y.size else y[:n].copy()), stream.file_rate


def _check_decoded(path, n, file_rate, min_duration, bad, any_nonzero):
    """Raise the :class:`InputError` of the first failed check on a decoded mono signal.

    ``n`` samples at ``file_rate``, ``bad`` of them non-finite, ``any_nonzero`` whether any
    sample is non-zero. The order and the messages are :func:`read_audio`'s contract.
    """
    if n == 0:
        raise InputError(path, "audio has no samples")
    duration = n / file_rate
    if duration < min_duration:
        raise InputError(
            path,
            f"audio is shorter than one analysis window ({duration:.4f} s < {min_duration:g} s)",
        )
    if bad:
        raise InputError(path, f"audio has {bad} non-finite samples (NaN or inf) of {n}")
    if not any_nonzero:
        raise InputError(path, "audio is silent (every sample is zero)")


@dataclass(frozen=True)
class AudioInfo:
    """What :class:`AudioStream` learnt about a file once it was read to the end.

    Attributes
    ----------
    path : str
        The file.
    file_rate : int
        The file's own sample rate (Hz).
    channels : int
        Channels in the file (averaged to mono).
    sample_rate : int
        Rate of the streamed signal (Hz).
    n_samples : int
        Streamed samples at ``sample_rate`` (after resampling).
    duration : float
        ``n_file_samples / file_rate`` in seconds, as the file holds it.
    """

    path: str
    file_rate: int
    channels: int
    sample_rate: int
    n_samples: int
    duration: float


class AudioStream:
    """The mono float32 signal of an audio file at ``sample_rate``, one block at a time.

    Iterating yields consecutive float32 blocks whose concatenation equals
    ``read_audio(path, sample_rate, min_duration)[0]``; only one block (plus the resampler's
    state) is in memory at a time. The checks of :func:`read_audio` are made as the blocks go by
    and the first failure is raised, with :func:`read_audio`'s message, when the file has been
    read to the end (after the last block: a consumer discards what it computed). Blocks with
    non-finite samples, and all blocks after them, are not yielded.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file in any format libsndfile reads.
    sample_rate : int, default=16000
        Rate (Hz) of the yielded signal; the file is resampled when its own rate differs.
    min_duration : float, default=0.03
        Shortest accepted duration in seconds.
    block_seconds : float, optional
        Seconds of the file read per block (default ten). Resampled blocks vary in length
        (the resampler holds back its filter delay until the end).
    gain : float, default=1.0
        Factor applied to every decoded sample, before resampling (a power of two from
        :func:`diarizer.io.level.level_gain` scales them exactly).

    Attributes
    ----------
    file_rate : int
        The file's sample rate (Hz), from its header.
    channels : int
        The file's channel count.
    info : AudioInfo or None
        Set once the stream has been read to the end without error.

    Raises
    ------
    InputError
        At construction: the file is missing, unreadable or has no samples by its header.
        At the end of iteration: any other failure :func:`read_audio` reports.
    ValueError
        ``sample_rate`` is not positive.

    Examples
    --------
    >>> stream = AudioStream("examples/dev00.wav")  # doctest: +SKIP
    >>> n = sum(block.size for block in stream)  # doctest: +SKIP
    >>> stream.info.n_samples == n  # doctest: +SKIP
    True
    """

    def __init__(self, path, sample_rate=16000, min_duration=0.03, block_seconds=None, gain=1.0):
        self.path = os.fspath(path)
        self.gain = float(gain)
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int. Got {sample_rate} instead.")
        header = _open_info(self.path)
        if header.frames == 0:
            raise InputError(self.path, "audio has no samples")
        self.sample_rate = int(sample_rate)
        self.file_rate = int(header.samplerate)
        self.channels = int(header.channels)
        self.min_duration = min_duration
        self.header_frames = int(header.frames)
        if block_seconds is None:
            block_seconds = _BLOCK_SECONDS
        self._block = max(1, int(block_seconds * self.file_rate))
        self.info = None

    def expected_samples(self):
        """Samples at ``sample_rate`` the header announces (a size hint; the decoder decides)."""
        return self._target(self.header_frames)

    def _target(self, n_file):
        """Length of the resampled signal for ``n_file`` file samples (``librosa.resample``'s)."""
        if self.file_rate == self.sample_rate:
            return n_file
        return int(np.ceil(n_file * (float(self.sample_rate) / self.file_rate)))

    def __iter__(self):
        try:
            yield from self._blocks()
        except (sf.SoundFileError, RuntimeError) as exc:
            reason = _short_reason(exc)
            raise InputError(self.path, f"not a readable audio file ({reason})") from None

    def _blocks(self):
        path = self.path
        resampler = None
        if self.file_rate != self.sample_rate:
            import soxr

            log.debug("%s: resampling %d Hz -> %d Hz", path, self.file_rate, self.sample_rate)
            resampler = soxr.ResampleStream(self.file_rate, self.sample_rate, 1, dtype="float32",
                                            quality="HQ")
        n_file = bad = n_out = 0
        any_nonzero = False
        pending = np.zeros(0, dtype=np.float32)  # resampled samples not yet yielded
        with sf.SoundFile(path) as fh:
            while True:
                data = fh.read(self._block, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    break
                x = _mono(data)
                del data
                if self.gain != 1.0:
                    x = x * np.float32(self.gain)
                n_file += x.size
                bad += x.size - int(np.count_nonzero(np.isfinite(x)))
                if bad:
                    continue  # keep counting for the message; the signal is not used
                any_nonzero = any_nonzero or bool(x.any())
                if resampler is None:
                    n_out += x.size
                    yield x
                    continue
                pending = np.concatenate([pending, resampler.resample_chunk(x)])
                # never yield past the shortest length the whole signal can have
                safe = n_file * self.sample_rate // self.file_rate - n_out
                if safe > 0 and pending.size:
                    k = min(safe, pending.size)
                    n_out += k
                    yield pending[:k]
                    pending = pending[k:]
        _check_decoded(path, n_file, self.file_rate, self.min_duration, bad, any_nonzero)
        if resampler is not None:
            tail = np.concatenate([pending, resampler.resample_chunk(np.zeros(0, np.float32),
                                                                     last=True)])
            need = self._target(n_file) - n_out
            if tail.size < need:
                tail = np.concatenate([tail, np.zeros(need - tail.size, dtype=np.float32)])
            tail = tail[:need]
            if tail.size:
                n_out += tail.size
                yield tail
        duration = n_file / self.file_rate
        log.info("%s: %.2f s, %d channel(s), %d Hz", path, duration, self.channels,
                 self.file_rate)
        self.info = AudioInfo(path=path, file_rate=self.file_rate, channels=self.channels,
                              sample_rate=self.sample_rate, n_samples=n_out, duration=duration)
