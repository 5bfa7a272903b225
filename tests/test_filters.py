"""The FIR high-pass filter of the WebRTC VAD's input (diarizer.filters)."""

import numpy as np
import pytest

from diarizer.filters import HighPass, highpass, highpass_taps


@pytest.mark.parametrize("cutoff", [200.0, 250.0])
def test_taps_are_a_zero_phase_butterworth_magnitude(cutoff):
    taps = highpass_taps(cutoff, 16000)
    assert taps.size == 801 and np.allclose(taps, taps[::-1])  # symmetric: no delay
    assert abs(taps.sum()) < 1e-12  # DC removed exactly
    freqs = np.fft.rfftfreq(1 << 16, 1 / 16000)
    gain = 20 * np.log10(np.abs(np.fft.rfft(taps, 1 << 16)) + 1e-30)
    butter = np.full_like(freqs, -np.inf)
    butter[1:] = -10 * np.log10(1 + (cutoff / freqs[1:]) ** 8)
    above = freqs >= 0.75 * cutoff
    assert np.abs(gain[above] - butter[above]).max() < 0.4
    assert gain[freqs <= cutoff / 2].max() < -20  # a rumble an octave below is 20 dB down
    assert np.abs(gain[freqs >= 2 * cutoff]).max() < 0.05  # voices untouched


@pytest.mark.parametrize("n", [1, 400, 801, 5000, 70000])
def test_highpass_equals_direct_convolution(n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    taps = highpass_taps(200.0, 16000)
    ref = np.convolve(x.astype(np.float64), taps)[400:400 + n]  # centred: 'same'
    y = highpass(x, 200.0, 16000)
    assert y.dtype == np.float32 and y.shape == (n,)
    np.testing.assert_allclose(y, ref, atol=2e-5)
    inner = highpass(x, 200.0, 16000, edges=False)
    assert inner.shape == (max(0, n - 800),)
    np.testing.assert_array_equal(inner, y[400:400 + inner.size])


def test_stream_is_the_same_whatever_the_blocks():
    x = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    whole = highpass(x, 300.0, 8000)
    for size in (97, 333, 16384, 40000):
        f = HighPass(300.0, 8000)
        parts = [f.feed(x[a:a + size]) for a in range(0, x.size, size)]
        out = np.concatenate(parts + [f.flush()])
        np.testing.assert_array_equal(out, whole)


@pytest.mark.parametrize("cutoff", [0.0, -5.0, 8000.0, 9000.0])
def test_cutoff_outside_the_band_is_refused(cutoff):
    with pytest.raises(ValueError, match="cut-off"):
        highpass_taps(cutoff, 16000)
