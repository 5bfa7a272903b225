import struct

import numpy as np
import pytest

from diarizer.cli import main
from diarizer.exceptions import ConfigError, InputError
from diarizer.io.rttm import RTTMTurn, write_rttm
from diarizer.plotting import (
    DPI,
    _error_pieces,
    figure_size,
    plot_diarization,
    plot_rttm,
)
from diarizer.scoring import _by_uri, score

pytest.importorskip("matplotlib")

# Hand-countable case, evaluated on [0, 25) by a UEM:
#   ref  A |0---------10|
#        B              |10--------20|
#   hyp  x |0--5| |6----12|
#        y                 |12--18|
#        z                        |18----22|
# mapping x->A (10 s together), y->B (6 s); z unmapped.
# missed 5-6 (1 s); confusion 10-12 (x on B) and 18-20 (z on B) (4 s); false alarm 20-22 (2 s).
REF = [RTTMTurn("m", 0.0, 10.0, "A"), RTTMTurn("m", 10.0, 10.0, "B")]
HYP = [RTTMTurn("m", 0.0, 5.0, "x"), RTTMTurn("m", 6.0, 6.0, "x"),
       RTTMTurn("m", 12.0, 6.0, "y"), RTTMTurn("m", 18.0, 4.0, "z")]
UEM = {"m": [(0.0, 25.0)]}


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def drawn_bars(fig):
    """Rectangles drawn per PolyCollection (one collection per broken_barh call)."""
    from matplotlib.collections import PolyCollection

    ax = fig.axes[0]
    return [len(c.get_paths()) for c in ax.collections if isinstance(c, PolyCollection)]


def test_error_pieces_add_up_to_the_scorer_components():
    ref, hyp = _by_uri(REF)["m"], _by_uri(HYP)["m"]
    bounds, counts = _error_pieces(ref, hyp, UEM["m"], {"x": "A", "y": "B"})
    dur = np.diff(bounds)
    got = {k: float(dur @ v) for k, v in counts.items()}
    assert got == {"missed": 1.0, "false alarm": 2.0, "confusion": 4.0}
    total = score(REF, HYP, uem=UEM).total
    assert (total.missed, total.false_alarm, total.confusion) == (1.0, 2.0, 4.0)
    # where each error is
    bad = {k: [(float(a), float(b)) for a, b, c in zip(bounds[:-1], bounds[1:], v) if c]
           for k, v in counts.items()}
    assert bad["missed"] == [(5.0, 6.0)]
    assert bad["false alarm"] == [(20.0, 22.0)]
    assert bad["confusion"] == [(10.0, 12.0), (18.0, 20.0)]


def test_error_pieces_outside_the_reference_span_are_not_errors():
    ref, hyp = _by_uri(REF)["m"], _by_uri(HYP)["m"]
    bounds, counts = _error_pieces(ref, hyp, None, {"x": "A", "y": "B"})
    assert float(np.diff(bounds) @ counts["false alarm"]) == 0.0  # 20-22 is after the last ref


def test_png_has_expected_size_rows_and_bars(tmp_path):
    hyp_path, ref_path = tmp_path / "m.rttm", tmp_path / "ref.rttm"
    write_rttm(hyp_path, HYP)
    write_rttm(ref_path, REF)
    uem_path = tmp_path / "m.uem"
    uem_path.write_text("m 1 0.000 25.000\n")
    out = tmp_path / "m.png"
    assert plot_rttm(hyp_path, out, reference=ref_path, uem=uem_path) == str(out)
    # 2 reference rows + 3 system rows + 1 errors row
    assert figure_size(2, 3, True) == (12.0, pytest.approx(1.4 + 0.4 * 6))
    assert png_size(out) == (1200, 380)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left

    fig = plot_diarization(HYP, reference=REF, uem=UEM)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "ref A", "ref B", "hyp x \u2192 A", "hyp y \u2192 B", "hyp z", "errors"]
    # rows: A 1, B 1, x 2, y 1, z 1; then per error kind its lane and its shading:
    # missed 1+1, false alarm 1+1, confusion 2+2; nothing unscored inside [0, 25)
    assert drawn_bars(fig) == [1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 2, 0]
    assert sum(drawn_bars(fig)) >= 14
    assert "DER 35.00% (full)" in ax.get_title()
    assert ax.get_xlim() == (0.0, 25.0)
    assert ax.get_xlabel() == "time (s)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["missed", "false alarm", "confusion", "not scored"]


def test_unscored_time_is_greyed_without_uem():
    fig = plot_diarization(HYP, reference=REF)
    # reference span [0, 20): the system's 20-22 lies outside, greyed and not a false alarm
    bars = drawn_bars(fig)
    assert bars[-1] == 1
    assert bars[5:] == [1, 1, 0, 0, 2, 2, 1]  # no false alarm lane or shading
    assert "DER 25.00% (full)" in fig.axes[0].get_title()  # (1 + 4) / 20


def test_hypothesis_alone_svg(tmp_path):
    hyp_path = tmp_path / "m.rttm"
    write_rttm(hyp_path, HYP)
    out = tmp_path / "m.svg"
    assert main(["plot", str(hyp_path), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    fig = plot_diarization(hyp_path)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["hyp x", "hyp y", "hyp z"]
    assert tuple(fig.get_size_inches()) == pytest.approx(figure_size(0, 3, False))
    assert fig.dpi == DPI


def test_cli_plot_with_reference_png(tmp_path):
    hyp_path, ref_path = tmp_path / "m.rttm", tmp_path / "ref.rttm"
    write_rttm(hyp_path, HYP)
    write_rttm(ref_path, REF)
    out = tmp_path / "p.png"
    assert main(["plot", str(hyp_path), "--ref", str(ref_path), "-o", str(out)]) == 0
    assert png_size(out) == (1200, 380)


def test_draws_into_given_axes_and_picks_uri():
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    other = [RTTMTurn("n", 0.0, 3.0, "q")]
    assert plot_diarization(other + HYP, reference=REF, uri="m", ax=ax) is fig
    assert ax.get_yticklabels()[0].get_text() == "ref A"
    fig2 = plot_diarization(other + HYP)  # default: first uri of the hypothesis
    assert [t.get_text() for t in fig2.axes[0].get_yticklabels()] == ["hyp q"]


def test_errors(tmp_path):
    hyp_path = tmp_path / "m.rttm"
    write_rttm(hyp_path, HYP)
    with pytest.raises(InputError, match=r"m\.jpg: unsupported image format"):
        plot_rttm(hyp_path, tmp_path / "m.jpg")
    with pytest.raises(InputError, match="output directory .* does not exist"):
        plot_rttm(hyp_path, tmp_path / "nope" / "m.png")
    with pytest.raises(ConfigError, match="The uri 'zz' is in neither"):
        plot_diarization(HYP, uri="zz")
    with pytest.raises(ConfigError, match="Nothing to plot"):
        plot_diarization([])
    with pytest.raises(ConfigError, match="must be an RTTM path or RTTMTurn records"):
        plot_diarization([(0.0, 1.0, "a")])
    with pytest.raises(InputError, match="missing.rttm"):
        plot_diarization(tmp_path / "missing.rttm")
    assert main(["plot", str(hyp_path), "-o", str(tmp_path / "m.gif")]) == 1
