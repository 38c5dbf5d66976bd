"""Command line: ``licoat run|validate|mesh|materials``. Exit codes: 0 ok, 2 invalid input, 3 solver failure.

Works unchanged under ``mpiexec -n N``: every rank parses the case, rank 0 alone prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import licoat

EXIT_OK, EXIT_INPUT, EXIT_SOLVER = 0, 2, 3


def _rank() -> int:
    try:
        from mpi4py import MPI  # noqa: F401 - only if already importable
    except ImportError:
        return 0
    licoat.import_stack()
    from mpi4py import MPI

    return MPI.COMM_WORLD.rank


def _say(msg: str, err: bool = False):
    if _rank() == 0:
        print(msg, file=sys.stderr if err else sys.stdout, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="licoat", description="Lithium plating uniformity under ALD/MLD coatings.")
    p.add_argument("--version", action="version", version=f"licoat {licoat.__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a case file and write results")
    r.add_argument("case")
    r.add_argument("--out", help="results directory (default: [output] directory or results/<case name>)")
    r.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a case key")
    r.add_argument("--quiet", action="store_true")
    r.add_argument("--restart", metavar="DIR", help="continue a transient run from the checkpoint in DIR "
                   "(a previous <out> or <out>.partial; any number of ranks)")

    v = sub.add_parser("validate", help="validate a case file and print it resolved (SI)")
    v.add_argument("case")
    v.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")

    m = sub.add_parser("mesh", help="build the case's mesh; write mesh.xdmf and geometry.json")
    m.add_argument("case")
    m.add_argument("--out", required=True)
    m.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")

    sw = sub.add_parser("sweep", help="run a sweep file, or a case over the cartesian product of --vary values")
    sw.add_argument("case", help="a sweep file (base + [vary]/[zip]) or a case file with --vary")
    sw.add_argument("--out", help="sweep directory (default: results/<file name>)")
    sw.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=V1,V2,...")
    sw.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    sw.add_argument("--jobs", type=int, default=None, help="points run at the same time (each its own process)")
    sw.add_argument("--ranks", type=int, default=None, help="MPI ranks per point (mpiexec -n / srun -n)")
    sw.add_argument("--mpiexec", default=None, help="MPI launcher for --ranks > 1 (default: the venv's mpiexec)")
    sw.add_argument("--bands", action="store_true", help="also run low/high values of estimated material properties")
    sw.add_argument("--slurm", action="store_true", help="write a Slurm job array (slurm/sweep.sbatch) instead of running")
    sw.add_argument("--submit", action="store_true", help="with --slurm: submit it with sbatch")
    sw.add_argument("--sbatch", action="append", default=[], metavar="OPTION", help="extra #SBATCH line, e.g. --sbatch=--time=1:00:00")
    sw.add_argument("--srun", default="srun", help="launcher in the Slurm tasks (e.g. 'srun --mpi=pmi2'); -n RANKS is appended")
    sw.add_argument("--quiet", action="store_true")

    co = sub.add_parser("collect", help="gather a sweep directory's finished points: results.csv, bands.csv, plots")
    co.add_argument("dir")

    rp = sub.add_parser("report", help="one self-contained HTML report of a run or sweep directory")
    rp.add_argument("dir")
    rp.add_argument("--out", help="HTML file (default: DIR/report.html)")

    mat = sub.add_parser("materials", help="list materials, or show one with values and sources")
    mat.add_argument("name", nargs="?")

    from licoat.slurm import add_parser as slurm_parser

    slurm_parser(sub)  # licoat slurm CASE --ranks N --time HH:MM:SS
    return p


def _out_dir(args, case) -> Path:
    if getattr(args, "out", None):
        return Path(args.out)
    if case.output.directory:
        return Path(case.output.directory)
    return Path("results") / Path(args.case).stem


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from licoat.case import CaseError, load_case

    if args.command == "slurm":
        from licoat.slurm import main_slurm

        return main_slurm(args, lambda msg, err=False: _say(msg, err=err))

    if args.command == "materials":
        from licoat.materials import MaterialError, format_material, format_table, list_materials, load_material

        try:
            _say(format_material(load_material(args.name)) if args.name else format_table(list_materials()))
        except MaterialError as exc:
            _say(f"licoat: {exc}", err=True)
            return EXIT_INPUT
        return EXIT_OK

    if args.command == "validate":  # a sweep file: every point
        from licoat import sweep

        if sweep.is_sweep_file(args.case):
            return sweep.main_validate(args)
    if args.command in ("sweep", "collect", "report"):  # sweep files are not case files
        from licoat import report, sweep

        return {"sweep": sweep.main_sweep, "collect": sweep.main_collect, "report": report.main_report}[args.command](args)

    try:
        case, _ = load_case(args.case, args.set)
    except CaseError as exc:
        _say(f"licoat: {exc}", err=True)
        return EXIT_INPUT

    if args.command == "validate":
        import tomli_w

        from licoat.case import resolved_dict

        _say(f"# {args.case}: valid. Resolved case (SI units):\n" + tomli_w.dumps(resolved_dict(case)))
        return EXIT_OK

    licoat.import_stack()
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    from licoat import failure

    failure.failure_comm(comm)  # collective, before anything can fail on one rank only
    if args.command == "mesh":
        from licoat.studies import mesh_to_directory

        try:
            info = mesh_to_directory(comm, case, Path(args.out))
        except Exception as exc:  # GeometryError: exit 2; a lone failing rank aborts the job
            return failure.finish(comm, exc, lambda msg: _say(msg, err=True))
        _say(f"mesh written to {args.out} ({info.get('cells', '?')} cells)")
        return EXIT_OK

    from licoat.run import run_case

    out = _out_dir(args, case)
    try:
        run_case(comm, case, out, args.case, verbose=not args.quiet, restart=args.restart)
    except Exception as exc:  # one line; exit 2 input, 3 solver, 1 other; a lone failing rank aborts the job
        return failure.finish(comm, exc, lambda msg: _say(msg, err=True))
    _say(f"results: {out.resolve()}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
