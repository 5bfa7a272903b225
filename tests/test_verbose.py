import logging

import numpy as np

from diarizer.cli import main
from diarizer.io.htk import write_htk


def test_vv_logs_every_em_iteration_and_v_every_merge(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.standard_normal((1500, 4)), rng.standard_normal((1500, 4)) + 4])
    write_htk(tmp_path / "a.htk", X.astype(np.float32))
    args = ["--mfcc-feats", str(tmp_path / "a.htk"), "--output-cluster", str(tmp_path / "a.rttm"),
            "--initial-clusters", "4", "--M-mfcc", "2", "--ccr", "0"]
    assert main(args + ["-v"]) == 0
    err = capsys.readouterr().err
    assert "merge step 1:" in err and "EM iteration" not in err
    assert main(args + ["-vv"]) == 0
    err = capsys.readouterr().err
    assert "EM iteration 1: log-likelihood" in err
    logging.getLogger("diarizer").setLevel(logging.WARNING)
