"""Sweeps: sweep-file format (product, zip, ranges), validation before anything runs, the point runner
(one process per point), resume after a killed point, failed points recorded with exit code and reason,
results.csv, plots with one line per value of a second key, and the Slurm array script.

The physics of each point is the ordinary ``licoat run`` (verified elsewhere); here the check is that the
inputs reach the runs: the resolved case of each point holds the swept value in SI, and the coating's
ohmic drop follows the closed form i t / kappa_c (physics.md §6) for each thickness."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from licoat.case import CaseError
from licoat.cli import main
from licoat.sweep import expand_range, load_sweep, slurm_script

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "planar.toml"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_ranges_product_zip_and_nested_tables(tmp_path):
    assert expand_range("k", {"start": "10 nm", "stop": "30 nm", "num": 3}) == ["10 nm", "20 nm", "30 nm"]
    assert expand_range("k", {"start": "1 nm", "stop": "100 nm", "num": 3, "scale": "log"}) == ["1 nm", "10 nm", "100 nm"]
    assert expand_range("k", {"start": "1 um", "stop": "2500 nm", "step": "0.5 um"}) == ["1 um", "1.5 um", "2 um", "2.5 um"]
    assert expand_range("k", {"start": 1, "stop": 2, "num": 2}) == [1.0, 2.0]
    f = _write(tmp_path / "s.toml", f"""
base = "{DEFAULT}"
[vary.coating]
thickness = ["10 nm", "20 nm"]
[vary]
"operation.current_density" = {{start = "1 mA/cm^2", stop = "3 mA/cm^2", num = 3}}
[zip]
"coating.material" = ["LiF", "Al2O3"]
"anode.exchange_current_density" = ["1 mA/cm^2", "2 mA/cm^2"]
""")
    sw = load_sweep(f)
    assert len(sw.points) == 2 * 3 * 2  # product of two lists and one zipped pair
    assert sw.keys == ["coating.thickness", "operation.current_density", "coating.material", "anode.exchange_current_density"]
    zipped = {(p.values["coating.material"], p.values["anode.exchange_current_density"]) for p in sw.points}
    assert zipped == {("LiF", "1 mA/cm^2"), ("Al2O3", "2 mA/cm^2")}
    assert sw.points[0].case["coating"]["thickness"] == "10 nm" and sw.points[0].case["geometry"]["kind"] == "planar"


def test_inline_base_and_errors(tmp_path):
    f = _write(tmp_path / "s.toml", """
[base.geometry]
kind = "planar"
[base.operation]
current_density = "1 mA/cm^2"
[vary]
"coating.material" = ["LiF"]
"coating.thickness" = ["8 nm"]
""")
    assert load_sweep(f).points[0].case["geometry"]["kind"] == "planar"
    bad = {
        "[zip]\n'coating.thickness' = ['1 nm', '2 nm']\n'coating.material' = ['LiF']\n": "equal lengths",
        "[vary]\n'coating.thickness' = {start = '1 nm', stop = '2 kg', num = 2}\n": "vary.coating.thickness.stop",
        "[vary]\nthickness = ['1 nm']\n": "section.key",
        "colour = 1\n[vary]\n'coating.thickness' = ['1 nm']\n": "colour",
        "[vary]\n'coating.thickness' = []\n": "non-empty",
    }
    for body, msg in bad.items():
        g = _write(tmp_path / "b.toml", f'base = "{DEFAULT}"\n' + body)
        with pytest.raises(CaseError, match=msg):
            load_sweep(g)


def test_bad_point_exits_2_names_point_and_key_writes_nothing(tmp_path, capsys):
    f = _write(tmp_path / "s.toml", f'base = "{DEFAULT}"\n[vary]\n"coating.thickness" = ["10 nm", "3 kg"]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "run_001" in err and "coating.thickness" in err and "'3 kg'" in err
    assert not out.exists()


def _pids_running(case_file: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if case_file.encode() in cmd and b"run" in cmd:
                pids.append(int(d.name))
    return pids


def _rows(out: Path) -> list[dict]:
    with open(out / "results.csv") as fh:
        return list(csv.DictReader(fh))


def test_three_thicknesses_kill_one_point_and_resume(tmp_path):
    """Three thicknesses; the middle point is killed mid-run (recorded: exit -9, reason); rerunning runs only it;
    a third run skips all three. Inputs match: SI thickness in each resolved case, coating drop = i t / kappa."""
    out = tmp_path / "sw"
    f = _write(tmp_path / "s.toml", f"""
base = "{DEFAULT}"
[set]
"geometry.mesh_size" = "5 um"
[vary]
"coating.thickness" = ["10 nm", "50 nm", "200 nm"]
""")
    cmd = [sys.executable, "-m", "licoat.cli", "sweep", str(f), "--out", str(out), "--jobs", "1"]
    driver = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    target = str(out / "cases" / "run_001.toml")
    t0 = time.time()
    killed = False
    while driver.poll() is None and time.time() - t0 < 120:
        if (out / "run_001.partial").exists():
            for pid in _pids_running(target):
                os.kill(pid, signal.SIGKILL)
                killed = True
            if killed:
                break
        time.sleep(0.05)
    text, _ = driver.communicate(timeout=120)
    assert killed, text
    assert driver.returncode == 3, text  # a failed point fails the sweep, after the other points ran
    rows = {r["point"]: r for r in _rows(out)}
    assert [rows[p]["status"] for p in ("run_000", "run_001", "run_002")] == ["finished", "failed", "finished"]
    assert rows["run_001"]["exit_code"] == "-9" and "killed by signal 9" in rows["run_001"]["reason"]
    stamp = {p: (out / p / "summary.json").stat().st_mtime_ns for p in ("run_000", "run_002")}

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ran 1, skipped 2 finished, 0 failed" in res.stdout
    assert all((out / p / "summary.json").stat().st_mtime_ns == t for p, t in stamp.items())

    assert main(["sweep", str(f), "--out", str(out)]) == 0  # everything finished: nothing runs
    rows = _rows(out)
    assert [r["coating.thickness"] for r in rows] == ["10 nm", "50 nm", "200 nm"]
    assert all(r["status"] == "finished" for r in rows)
    import tomllib

    from licoat.materials import load_material

    kappa = load_material("LiPON").value("ionic_conductivity")  # S/m
    for r, t in zip(rows, (10e-9, 50e-9, 200e-9)):
        resolved = tomllib.loads((out / r["point"] / "case.toml").read_text())
        assert resolved["coating"]["thickness"] == pytest.approx(t)
        i = abs(float(r["plating.current_density_mean_A_m2"]))
        drop = abs(float(r["overpotentials_V.coating_ohmic"]))
        assert drop == pytest.approx(i * t / kappa, rel=1e-3)  # ohmic drop of a planar film, i t / kappa_c
    assert (out / "sweep.png").exists() and (out / "plots" / "plating_cv_vs_coating_thickness.svg").exists()


def test_failed_point_has_exit_code_and_reason(tmp_path):
    out = tmp_path / "sw"
    f = _write(tmp_path / "s.toml", f"""
base = "{DEFAULT}"
[set]
"geometry.mesh_size" = "5 um"
[vary]
"operation.current_density" = ["1 mA/cm^2", "100 mA/cm^2"]   # the second is above the limiting current
""")
    assert main(["sweep", str(f), "--out", str(out), "--jobs", "2"]) == 3
    rows = {r["point"]: r for r in _rows(out)}
    assert rows["run_000"]["status"] == "finished"
    assert rows["run_001"]["status"] == "failed" and rows["run_001"]["exit_code"] == "3"
    assert "limiting current" in rows["run_001"]["reason"]


def test_plot_has_one_line_per_value_of_the_second_key():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from licoat.plots import line_plot, numeric_axis

    rows = [{"point": f"p{i}", "status": "finished", "t": t, "m": m, "plating.cv": 0.1 * i}
            for i, (t, m) in enumerate([(t, m) for m in ("LiF", "LiPON", "LiGL") for t in ("10 nm", "0.05 um")])]
    fig, ax = plt.subplots()
    bands = {("p0", "plating.cv"): (-0.05, 0.05)}
    line_plot(rows, "t", "plating.cv", ["m"], None, bands=bands, ax=ax)
    assert len(ax.lines) == 3  # LiF, LiPON, LiGL
    assert sorted(ax.lines[0].get_xdata()) == [10.0, 50.0]  # "0.05 um" in the unit of the first value, nm
    assert len(ax.collections) == 1  # the band of the LiF line
    plt.close(fig)
    assert numeric_axis(["LiF", "LiPON"]) is None


def test_slurm_script(tmp_path):
    f = _write(tmp_path / "s.toml", f'base = "{DEFAULT}"\nranks = 2\n[vary]\n"coating.thickness" = ["10 nm", "20 nm"]\n')
    sw = load_sweep(f)
    text = slurm_script(sw, tmp_path / "o", sw.points, ranks=2, jobs=1, options=["--time=0:10:00"])
    assert "#SBATCH --array=0-1%1" in text and "#SBATCH --ntasks=2" in text and "#SBATCH --time=0:10:00" in text
    assert "srun -n 2 " in text and "names=(run_000 run_001)" in text and 'status/$name.rc' in text
    r = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
    assert r.returncode == 0, r.stderr
