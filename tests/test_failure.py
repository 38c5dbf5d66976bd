"""Failure on any rank and environment faults (issue 13, items 3 and 5).

An exception on one rank of two (injected by monkeypatching the solver on rank 1 only) must end
the whole job within 30 s, exit != 0 with rank 1's message on stderr, and leave ``<out>.partial``
with a FAILED file; environment faults give one clear line and exit 1.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from licoat import failure
from licoat.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "cases" / "planar.toml"
COARSE = ["--quiet", "--set", "geometry.mesh_size='4 um'"]
MPIEXEC = Path(sys.executable).parent / "mpiexec"

INJECT = textwrap.dedent("""
    import sys
    from licoat import import_stack
    import_stack()
    from mpi4py import MPI
    import licoat.run as run
    from licoat.solver.electrochemistry import SolverError
    real = run.solve_steady
    def solve_steady(comm, case, tm, *args, **kwargs):
        if comm.rank == 1:
            raise {exc}("injected failure on rank 1 of 2")
        return real(comm, case, tm, *args, **kwargs)
    run.solve_steady = solve_steady
    from licoat.cli import main
    sys.exit(main(["run", {case!r}, "--out", {out!r}, "--quiet", "--set", "geometry.mesh_size='4 um'"]))
""")


@pytest.mark.skipif(not MPIEXEC.exists(), reason="needs the venv's mpiexec")
@pytest.mark.parametrize("exc, code", [("RuntimeError", 1), ("SolverError", 3)])
def test_exception_on_one_rank_ends_the_job(exc, code, tmp_path):
    out = tmp_path / "res"
    script = INJECT.format(exc=exc, case=str(DEFAULT), out=str(out))
    t0 = time.monotonic()
    r = subprocess.run([str(MPIEXEC), "-n", "2", sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    elapsed = time.monotonic() - t0
    assert elapsed < 30, elapsed
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    assert "rank 1" in r.stderr and "injected failure on rank 1 of 2" in r.stderr
    assert not out.exists()
    failed = (tmp_path / "res.partial" / "FAILED").read_text()
    assert "rank 1" in failed and "injected failure" in failed and f"exit code {code}" in failed
    assert "injected failure" in (tmp_path / "res.partial" / "licoat.log").read_text()


def test_solver_failure_keeps_partial_with_failed(tmp_path, capsys):
    """Serial: exit 3 with one line; <out>.partial stays with FAILED stating the reason."""
    out = tmp_path / "p5"
    rc = main(["run", str(DEFAULT), "--out", str(out), "--quiet", "--set", "operation.mode='potentiostatic'",
               "--set", "operation.voltage='5 V'"])
    err = capsys.readouterr().err.strip()
    assert rc == 3 and len(err.splitlines()) == 1 and err.startswith("licoat: solver failed:")
    assert not out.exists()
    assert "current balance" in (tmp_path / "p5.partial" / "FAILED").read_text()


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")  # works as root too (chmod does not stop root)
    rc = main(["run", str(DEFAULT), "--out", str(blocker / "sub" / "res"), *COARSE])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "cannot create the output directory" in err and str(blocker) in err


def test_full_disk_while_writing(tmp_path, capsys, monkeypatch):
    """ENOSPC while summary.json is written (simulated): exit 1, one line, no results, FAILED kept."""
    real = failure.atomic_write

    def full(path, text):
        if Path(path).name == "summary.json":
            try:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            except OSError as exc:
                raise failure.OutputError(exc.errno, f"cannot write {path}: {exc.strerror}") from exc
        return real(path, text)

    monkeypatch.setattr("licoat.run.atomic_write", full)
    out = tmp_path / "full"
    rc = main(["run", str(DEFAULT), "--out", str(out), *COARSE])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "No space left on device" in err and "summary.json" in err
    assert not out.exists() and not (tmp_path / "full.partial" / "summary.json").exists()
    assert "No space left" in (tmp_path / "full.partial" / "FAILED").read_text()


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    target.write_text(json.dumps({"old": 1}))

    def boom(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(failure.OutputError, match="No space left"):
        failure.atomic_write(target, json.dumps({"new": 2}))
    assert json.loads(target.read_text()) == {"old": 1}  # the old file intact, no temporary left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_missing_adios2_is_one_line(tmp_path, capsys, monkeypatch):
    """DOLFINx without ADIOS2 (no VTXWriter): exit 1 with what to do, no traceback."""
    import dolfinx.io

    monkeypatch.delattr(dolfinx.io, "VTXWriter")
    rc = main(["run", str(DEFAULT), "--out", str(tmp_path / "v"), *COARSE])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "missing optional dependency 'adios2'" in err and "fields = false" in err
    monkeypatch.undo()
    assert main(["run", str(DEFAULT), "--out", str(tmp_path / "nf"), *COARSE, "--set", "output.fields=false"]) == 0


def test_missing_pyvista_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvista", None)  # import pyvista -> ImportError
    with pytest.raises(ImportError) as info:
        import pyvista  # noqa: F401
    assert failure.exit_code(info.value) == 1
    assert failure.message(info.value) == "missing optional dependency 'pyvista': pictures need pyvista: pip install 'licoat[viz]'"
