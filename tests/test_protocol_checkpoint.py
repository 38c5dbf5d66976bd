"""Checkpoint and restart inside a protocol (issue 9, item 3; licoat/protocol.py, solver/checkpoint.py).

A mixed protocol (plate, rest, −30 mV hold, strip, +20 mV hold that ends on its charge) stopped in the middle
of step k (the checkpoint writer raises after writing, as a killed job would stop) and restarted with
``--restart`` resumes in step k at the checkpoint's time with the charge that step had passed, and ends with the
summary and the time series of the uninterrupted run (to 1e-8 relative, timing excepted): on 1 rank from the
middle of each hold, and on 2 ranks.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_same_summary
from licoat.cli import main
from licoat.solver import checkpoint
from test_protocol import GEOMETRY, MIXED

MPIEXEC = Path(sys.executable).parent / "mpiexec"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("pckpt")
    path = d / "mixed.toml"
    path.write_text(GEOMETRY.format(L=20, h=2).replace("fields = false", "fields = false\ncheckpoint_every = 3") + MIXED)
    assert main(["run", str(path), "--out", str(d / "full"), "--quiet"]) == 0
    full = json.loads((d / "full" / "summary.json").read_text())
    return d, path, full, (d / "full" / "timeseries.csv").read_text()


def _stop_in(monkeypatch, step, after_charge):
    """Raise after the first checkpoint written in protocol step ``step`` once it has passed ``after_charge``."""
    real = checkpoint.Checkpointer.write
    seen = {}

    def write(self, loop):
        real(self, loop)
        p = loop["protocol"]
        if p["step"] == step and abs(p["charge"]) >= after_charge:
            seen.update(p, t=loop["t"])
            raise RuntimeError(f"stopped in step {step} (test)")

    monkeypatch.setattr(checkpoint.Checkpointer, "write", write)
    return seen


@pytest.mark.parametrize("step, charge", [(2, 50.0), (4, 30.0)], ids=["in the -30 mV hold", "in the capacity hold"])
def test_restart_inside_a_protocol_step_matches_uninterrupted(case, step, charge, monkeypatch, capsys):
    d, path, full, series = case
    out = d / f"r{step}"
    seen = _stop_in(monkeypatch, step, charge)
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 1
    assert f"stopped in step {step}" in capsys.readouterr().err
    monkeypatch.undo()
    assert seen["step"] == step and 0 < abs(seen["charge"]) < (72.0 if step == 4 else 1e9)
    assert main(["run", str(path), "--out", str(out), "--restart", str(out.with_name(out.name + ".partial"))]) == 0
    log = (out / "licoat.log").read_text()
    assert "restart from" in log and f"at t = {seen['t']:.6g} s" in log
    assert f"protocol step {step + 1}/5" in log and "protocol step 1/5" not in log  # resumed in step k
    assert_same_summary(json.loads((out / "summary.json").read_text()), full, 1e-8)
    assert (out / "timeseries.csv").read_text() == series


@pytest.mark.skipif(not MPIEXEC.exists(), reason="needs the venv's mpiexec")
def test_restart_inside_a_protocol_step_on_two_ranks(case, monkeypatch):
    d, path, full, _ = case
    out = d / "r2ranks"
    _stop_in(monkeypatch, 3, 20.0)
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 1
    monkeypatch.undo()
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "licoat.cli", "run", str(path), "--out",
                        str(d / "r2b"), "--quiet", "--restart", str(out.with_name(out.name + ".partial"))],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((d / "r2b" / "summary.json").read_text())
    assert s["ranks"] == 2
    assert_same_summary(s, full, 1e-8)
