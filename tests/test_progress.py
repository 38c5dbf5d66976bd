"""The transient progress bar (issue 9, item 4; licoat/protocol.Progress): rich, rank 0, on a terminal only; it
shows the simulated time, the step size and the plated capacity. Checked on a rich console forced to be a
terminal, end to end on a pseudo-terminal, and absent when the output is not a terminal or with --quiet."""

import io
import os
import pty
import select
import subprocess
import sys

from mpi4py import MPI
from rich.console import Console

from licoat.protocol import Progress

CASE = """
[geometry]
kind = "planar"
width = "5 um"
electrolyte_thickness = "20 um"
anode_thickness = "5 um"
mesh_size = "5 um"
[operation]
current_density = "1 mA/cm^2"
capacity = "0.02 mAh/cm^2"
[output]
fields = false
"""


def test_bar_shows_time_step_and_capacity_on_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=200)
    p = Progress(MPI.COMM_WORLD, 72.0, 25e-12, console=console)
    assert p.bar is not None
    with p:
        p.update(36.0, {"dt_s": 1.5, "plated_capacity_C_m2": 360.0})  # 0.01 mAh/cm^2
        p.bar.refresh()
    out = buf.getvalue()
    assert "transient" in out and "t = 36 / 72 s" in out and "dt = 1.5 s" in out and "plated 0.01 mAh/cm^2" in out


def test_no_bar_when_not_a_terminal_or_disabled():
    assert Progress(MPI.COMM_WORLD, 1.0, 1.0, console=Console(file=io.StringIO())).bar is None
    assert Progress(MPI.COMM_WORLD, 1.0, 1.0, enabled=False,
                    console=Console(file=io.StringIO(), force_terminal=True)).bar is None


def _run_on_pty(args, tmp_path) -> str:
    """licoat run with stderr (and stdout) on a pseudo-terminal; returns what it printed."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="160", OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "licoat.cli", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 1.0)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=300)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


def test_bar_on_a_pseudo_terminal_and_not_with_quiet(tmp_path):
    case = tmp_path / "p.toml"
    case.write_text(CASE)
    out = _run_on_pty(["run", str(case), "--out", str(tmp_path / "a")], tmp_path)
    assert "transient" in out and "plated" in out and "mAh/cm^2" in out and "dt = " in out
    quiet = _run_on_pty(["run", str(case), "--out", str(tmp_path / "b"), "--quiet"], tmp_path)
    assert "plated" not in quiet and "transient" not in quiet
