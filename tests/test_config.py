import pytest

from diarizer.config import SCHEMA, make_settings, read_config
from diarizer.exceptions import ConfigError

REQ = {"mfcc_feats": "a.htk", "output_cluster": "a.rttm"}


def write(tmp_path, text, name="my.cfg"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_original_defaults():
    s = read_config(None, REQ)
    assert (s.em_iterations, s.KL_ntop, s.num_seg_iters_init, s.num_seg_iters, s.seg_length) == (
        3, 0, 2, 3, 250)
    assert s.spnsp_file == ""


def test_original_keys_case_insensitive(tmp_path):
    p = write(tmp_path, "[Diarizer]\nbasename = IS1008a\nmfcc_feats = x.htk\n"
              "output_cluster = o.rttm\ngmm_output = IS.gmm\nem_iterations = 3\n"
              "initial_clusters = 16\nM_mfcc = 5\nKL_ntop = 3\nnum_seg_iters_init = 1\n"
              "num_seg_iters = 1\nseg_length = 250\n")
    s = read_config(p)
    assert s.M_mfcc == 5 and s.KL_ntop == 3 and s.basename == "IS1008a"
    assert s.gmm_output == "IS.gmm" and s.num_seg_iters == 1


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.cfg: configuration file not found"):
        read_config(tmp_path / "nope.cfg")


def test_missing_section(tmp_path):
    p = write(tmp_path, "[Other]\na = 1\n")
    with pytest.raises(ConfigError, match=r"no \[Diarizer\] section"):
        read_config(p)


def test_unknown_key_suggests(tmp_path):
    p = write(tmp_path, "[Diarizer]\nseg_lenght = 3\n")
    with pytest.raises(ConfigError,
                       match="Unknown setting 'seg_lenght'.*Did you mean 'seg_length'"):
        read_config(p, REQ)


def test_required_missing():
    with pytest.raises(ConfigError, match="'output_cluster' setting is required"):
        read_config(None, {"mfcc_feats": "a.htk"})
    with pytest.raises(ConfigError, match="'mfcc_feats' or 'audio'"):
        read_config(None, {"output_cluster": "a.rttm"})


@pytest.mark.parametrize("key,value,msg", [
    ("seg_length", "0", "The 'seg_length' setting must be an int >= 1. Got 0 instead."),
    ("seg_length", "-5", "The 'seg_length' setting must be an int >= 1. Got -5 instead."),
    ("initial_clusters", "abc", "The 'initial_clusters' setting must be an int >= 1. Got abc"),
    ("em_iterations", "2.5", "'em_iterations' setting must be an int"),
    ("mfcc_c0", "maybe", "'mfcc_c0' setting must be a boolean"),
    ("covariance_type", "spherical", "'covariance_type' setting must be one of 'diag', 'full'"),
    ("mfcc_hop", "nan", "'mfcc_hop' setting must be a float"),
])
def test_bad_values(tmp_path, key, value, msg):
    p = write(tmp_path, f"[Diarizer]\n{key} = {value}\n")
    with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace(".", r"\.")):
        read_config(p, REQ)


@pytest.mark.parametrize("rate,window,hop", [
    (16000, 0.00999, 0.01),    # 159.84 rounds to 160 samples: as long as the hop
    (16000, 0.0099, 0.01),     # 158.4 -> 158 samples: shorter
    (8000, 0.010062, 0.01),    # 80.496 -> 80: as long
    (4000, 0.005, 0.0051),     # 20 and 20.4 -> 20
    (4000, 0.005, 0.00513),    # 20 and 20.52 -> 21
])
def test_mfcc_window_check_uses_the_framing_rule(rate, window, hop):
    from diarizer.framing import frame_samples

    values = {**REQ, "sample_rate": rate, "mfcc_window": window, "mfcc_hop": hop}
    try:
        frame_samples(rate, window, hop)
    except ValueError:
        with pytest.raises(ConfigError, match="'mfcc_window' setting .* must not be shorter"):
            make_settings(values)
    else:
        settings = make_settings(values)
        assert (settings.mfcc_window, settings.mfcc_hop) == (window, hop)


def test_overrides_win_and_dash_spelling(tmp_path):
    p = write(tmp_path, "[Diarizer]\nseg_length = 100\nmfcc_feats = x.htk\noutput_cluster = o\n")
    s = read_config(p, {"seg-length": "200"})
    assert s.seg_length == 200
    assert read_config(p, {"seg_length": 7}).seg_length == 7


def test_types_converted():
    s = make_settings({**REQ, "mfcc_c0": "yes", "mfcc_hop": "0.02", "sad": "none"})
    assert s.mfcc_c0 is True and s.mfcc_hop == 0.02 and s.sad == "none"


def test_schema_complete():
    names = {s.name for s in SCHEMA}
    for key in ("basename", "mfcc_feats", "spnsp_file", "output_cluster", "gmm_output",
                "em_iterations", "initial_clusters", "M_mfcc", "KL_ntop", "num_seg_iters_init",
                "num_seg_iters", "seg_length"):
        assert key in names
    for s in SCHEMA:
        assert s.help and s.type in ("int", "float", "bool", "str", "path", "choice")
        if not s.required:
            assert s.convert(s.default) == s.default


def test_cli_subcommands_listed_and_wired(capsys):
    from diarizer.cli import main

    for sub in ("score", "batch", "plot", "enroll", "ubm"):
        with pytest.raises(SystemExit) as info:
            main([sub, "--help"])
        assert info.value.code == 0
        assert f"diarizer {sub}" in capsys.readouterr().out


def test_help_lists_every_setting_with_default(capsys):
    from diarizer.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for spec in SCHEMA:
        assert "--" + spec.name.replace("_", "-") in out
    assert "(default: 250)" in out and "(default: 3)" in out


def test_documented_default_config_matches_schema():
    from pathlib import Path

    root = Path(__file__).parent.parent
    s = read_config(root / "configs" / "default.cfg", REQ)
    for spec in SCHEMA:
        if not spec.required and spec.name not in REQ:
            assert getattr(s, spec.name) == spec.default, spec.name
    text = (root / "configs" / "default.cfg").read_text()
    for spec in SCHEMA:
        assert spec.name in text
    from diarizer.config import default_config_text

    assert text == default_config_text()  # regenerate configs/default.cfg when this fails


@pytest.mark.parametrize("preset,values", [
    ("fast.cfg", (3, 1, 1)), ("accurate.cfg", (0, 2, 3))])
def test_original_presets(preset, values):
    from pathlib import Path

    s = read_config(Path(__file__).parent.parent / "configs" / preset, REQ)
    assert (s.KL_ntop, s.num_seg_iters_init, s.num_seg_iters) == values
