"""Checkpoint and restart of transient runs (issue 13, item 4).

A run stopped after k accepted steps (the checkpoint writer raises after its k-th step, as a
killed job would stop) and restarted with ``--restart`` on 1 and on 2 ranks ends with the same
summary as the uninterrupted run, to 1e-10 relative (timing excepted).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_same_summary
from licoat.cli import main
from licoat.solver import checkpoint

DEFAULT = Path(__file__).resolve().parents[1] / "cases" / "planar.toml"
CASE = ["--quiet", "--set", "geometry.mesh_size='4 um'", "--set", "operation.duration='20 s'",
        "--set", "output.checkpoint_every=4", "--set", "output.fields=false"]
MPIEXEC = Path(sys.executable).parent / "mpiexec"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    assert main(["run", str(DEFAULT), "--out", str(d / "full"), *CASE]) == 0
    full = json.loads((d / "full" / "summary.json").read_text())
    series = (d / "full" / "timeseries.csv").read_text()
    return d, full, series


def _stop_after(monkeypatch, k):
    real = checkpoint.Checkpointer.write

    def write(self, loop):
        real(self, loop)
        if loop["steps"] >= k:
            raise RuntimeError(f"stopped after step {loop['steps']} (test)")

    monkeypatch.setattr(checkpoint.Checkpointer, "write", write)


def test_restart_on_one_rank_matches_uninterrupted(runs, monkeypatch, capsys):
    d, full, series = runs
    _stop_after(monkeypatch, 12)
    assert main(["run", str(DEFAULT), "--out", str(d / "r1"), *CASE]) == 1
    assert "stopped after step 12" in capsys.readouterr().err
    assert (d / "r1.partial" / "checkpoint" / "state.npz").exists() and not (d / "r1").exists()
    monkeypatch.undo()
    # restart into the same output directory (the checkpoint is read before <out>.partial is reset)
    assert main(["run", str(DEFAULT), "--out", str(d / "r1"), "--restart", str(d / "r1.partial"), *CASE]) == 0
    assert_same_summary(json.loads((d / "r1" / "summary.json").read_text()), full, 1e-10)
    assert (d / "r1" / "timeseries.csv").read_text() == series
    assert "restart from" in (d / "r1" / "licoat.log").read_text()


@pytest.mark.skipif(not MPIEXEC.exists(), reason="needs the venv's mpiexec")
def test_restart_on_two_ranks_matches_uninterrupted(runs, monkeypatch):
    d, full, _ = runs
    _stop_after(monkeypatch, 8)
    assert main(["run", str(DEFAULT), "--out", str(d / "r2"), *CASE]) == 1
    monkeypatch.undo()
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-m", "licoat.cli", "run", str(DEFAULT), "--out",
                        str(d / "r2b"), "--restart", str(d / "r2.partial"), *CASE], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((d / "r2b" / "summary.json").read_text())
    assert s["ranks"] == 2
    assert_same_summary(s, full, 1e-10)


def test_checkpoint_by_simulated_time(runs):
    """checkpoint_every = '5 s': one checkpoint at the first accepted step at or past 5, 10, 15, 20 s."""
    d, _, series = runs
    out = d / "bytime"
    case = [a if a != "output.checkpoint_every=4" else "output.checkpoint_every='5 s'" for a in CASE]
    assert main(["run", str(DEFAULT), "--out", str(out), *case]) == 0
    times = [float(line.split(",")[0]) for line in series.splitlines()[1:]]
    expected = [min(t for t in times if t >= 5.0 * k * (1 - 1e-12)) for k in (1, 2, 3, 4)]
    logged = [float(line.split("checkpoint at t = ")[1].split()[0])
              for line in (out / "licoat.log").read_text().splitlines() if "checkpoint at t = " in line]
    assert logged == pytest.approx(expected, rel=1e-5)


def test_restart_refuses_another_case(runs, capsys):
    d, _, _ = runs
    rc = main(["run", str(DEFAULT), "--out", str(d / "other"), "--restart", str(d / "full"), *CASE,
               "--set", "operation.current_density='3 mA/cm^2'"])
    err = capsys.readouterr().err
    assert rc == 2 and "operation.current_density" in err and "differs" in err
    rc = main(["run", str(DEFAULT), "--out", str(d / "none"), "--restart", str(d / "nowhere"), *CASE])
    assert rc == 2 and "no checkpoint found" in capsys.readouterr().err


def test_checkpoint_needs_a_transient_run(tmp_path, capsys):
    rc = main(["run", str(DEFAULT), "--out", str(tmp_path / "s"), "--quiet", "--set", "geometry.mesh_size='4 um'",
               "--set", "output.checkpoint_every=2"])
    assert rc == 2 and "output.checkpoint_every" in capsys.readouterr().err
