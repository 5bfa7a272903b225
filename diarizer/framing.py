"""Frame lengths in samples: the one rounding rule of the MFCC framing and of the settings check.

In the lowest layer with :mod:`diarizer.config` and :mod:`diarizer.segments`, and without
imports, so that the settings are checked with the rule :mod:`diarizer.features.mfcc` frames the
audio with, without importing ``scipy.fft`` (about 0.15 s) each time settings are read, HTK input
included.
"""

__all__ = ["frame_samples", "n_frames"]


def frame_samples(sample_rate, window, hop):
    """Return the window and hop lengths in samples.

    Parameters
    ----------
    sample_rate : int
        Sampling rate (Hz).
    window, hop : float
        Window and hop lengths in seconds.

    Returns
    -------
    win, hop : int
        ``round(window * sample_rate)`` and ``round(hop * sample_rate)``, each at least 1.

    Raises
    ------
    ValueError
        The window is shorter than the hop, or either rounds to zero samples.
    """
    win_n = int(round(window * sample_rate))
    hop_n = int(round(hop * sample_rate))
    if hop_n < 1 or win_n < 1:
        raise ValueError(
            f"window and hop must each be at least one sample at {sample_rate} Hz."
            f" Got window={window}, hop={hop} instead."
        )
    if win_n < hop_n:
        raise ValueError(f"window must be >= hop. Got window={window}, hop={hop} instead.")
    return win_n, hop_n


def n_frames(n_samples, sample_rate=16000, hop=0.01):
    """Number of feature frames for a signal of ``n_samples`` samples: ``ceil(n_samples / hop)``.

    Parameters
    ----------
    n_samples : int
        Signal length in samples.
    sample_rate : int, default=16000
        Sampling rate (Hz).
    hop : float, default=0.01
        Frame hop in seconds.

    Returns
    -------
    int
    """
    hop_n = int(round(hop * sample_rate))
    return -(-int(n_samples) // hop_n)
