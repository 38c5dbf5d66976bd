"""``licoat slurm CASE --ranks N --time HH:MM:SS``: write a Slurm batch script that runs the case with srun.

The script uses the cluster's own MPI through ``srun`` (no mpiexec inside a job), either with the
licoat installed here (the absolute path of this interpreter's ``licoat``, on a shared file system)
or inside the Apptainer image (``--container licoat.sif``; the image's MPICH talks to Slurm through
PMI2: ``srun --mpi=pmi2``). The case is validated first (exit 2 on invalid input); nothing is
submitted unless ``--submit`` is given.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

TIME = re.compile(r"^(\d+-)?\d{1,2}:[0-5]\d:[0-5]\d$")


def add_parser(sub):
    s = sub.add_parser("slurm", help="write a Slurm job script (srun) that runs a case")
    s.add_argument("case")
    s.add_argument("--ranks", type=int, required=True, help="MPI ranks (Slurm tasks)")
    s.add_argument("--time", required=True, metavar="HH:MM:SS", help="wall-clock limit (D-HH:MM:SS also accepted)")
    s.add_argument("--out", help="results directory (default: [output] directory or results/<case name>)")
    s.add_argument("--script", help="job script path (default: <case name>.sbatch)")
    s.add_argument("--partition")
    s.add_argument("--account")
    s.add_argument("--nodes", type=int)
    s.add_argument("--container", metavar="SIF", help="run inside this Apptainer image (licoat.def)")
    s.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    s.add_argument("--submit", action="store_true", help="submit the script with sbatch")
    return s


def job_script(case_path: str, out: Path, ranks: int, time: str, overrides: list[str], *, partition=None,
               account=None, nodes=None, container=None, workdir: Path | None = None) -> str:
    """The text of the batch script."""
    name = Path(case_path).stem
    workdir = Path(workdir or Path.cwd()).resolve()
    lines = [
        "#!/bin/bash",
        f"# licoat run of {case_path} on {ranks} rank(s) (written by licoat slurm)",
        f"#SBATCH --job-name=licoat-{name}",
        f"#SBATCH --ntasks={ranks}",
        f"#SBATCH --time={time}",
        f"#SBATCH --output=slurm-licoat-{name}-%j.out",
    ]
    if nodes:
        lines.append(f"#SBATCH --nodes={nodes}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    run = ["run", str(case_path), "--out", str(out)] + [a for kv in overrides for a in ("--set", kv)]
    if container:
        launcher = ["srun", "--mpi=pmi2", f"--ntasks={ranks}", "apptainer", "exec", str(Path(container).resolve()), "licoat"]
    else:
        exe = Path(sys.executable).parent / "licoat"
        launcher = ["srun", f"--ntasks={ranks}", str(exe) if exe.exists() else "licoat"]
    lines += [
        "set -euo pipefail",
        f"cd {shlex.quote(str(workdir))}",
        "export OMP_NUM_THREADS=1  # one thread per MPI rank",
        "# exit codes: 0 ok, 2 invalid input, 3 solver failure (reason in <out>.partial/FAILED)",
        shlex.join(launcher + run),
        "",
    ]
    return "\n".join(lines)


def main_slurm(args, say) -> int:
    """CLI entry: validate, write the script (atomically), optionally submit. Returns the exit code."""
    from licoat.case import CaseError, load_case
    from licoat.failure import OutputError, atomic_write

    if args.ranks < 1:
        say(f"licoat: --ranks = {args.ranks}: must be >= 1", True)
        return 2
    if not TIME.match(args.time):
        say(f"licoat: --time = {args.time!r}: expected HH:MM:SS (or D-HH:MM:SS), e.g. 02:00:00", True)
        return 2
    if args.container and not Path(args.container).is_file():
        say(f"licoat: --container = {args.container!r}: no such image (build it: apptainer build licoat.sif licoat.def)", True)
        return 2
    try:
        case, _ = load_case(args.case, args.set)
    except CaseError as exc:
        say(f"licoat: {exc}", True)
        return 2
    out = Path(args.out) if args.out else Path(case.output.directory or Path("results") / Path(args.case).stem)
    script = Path(args.script or f"{Path(args.case).stem}.sbatch")
    text = job_script(args.case, out, args.ranks, args.time, args.set, partition=args.partition,
                      account=args.account, nodes=args.nodes, container=args.container)
    try:
        atomic_write(script, text)
    except OutputError as exc:
        say(f"licoat: {exc}", True)
        return 1
    script.chmod(0o755)
    say(f"job script: {script} (submit with: sbatch {script})")
    if args.submit:
        if shutil.which("sbatch") is None:
            say("licoat: --submit: sbatch not found (not on a Slurm login node?)", True)
            return 1
        r = subprocess.run(["sbatch", str(script)], capture_output=True, text=True)
        say(r.stdout.strip() or r.stderr.strip(), r.returncode != 0)
        return 0 if r.returncode == 0 else 1
    return 0
