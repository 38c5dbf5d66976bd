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

    v = sub.add_parser("validate", help="validate a case file and print it resolved (SI)")
    v.add_argument("case")
    v.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")

    m = sub.add_parser("mesh", help="build the case's mesh; write mesh.xdmf and geometry.json")
    m.add_argument("case")
    m.add_argument("--out", required=True)
    m.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")

    sw = sub.add_parser("sweep", help="run a case over the cartesian product of parameter values")
    sw.add_argument("case")
    sw.add_argument("--out", required=True)
    sw.add_argument("--vary", action="append", required=True, metavar="SECTION.KEY=V1,V2,...")
    sw.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    sw.add_argument("--quiet", action="store_true")

    mat = sub.add_parser("materials", help="list materials, or show one with values and sources")
    mat.add_argument("name", nargs="?")
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

    if args.command == "materials":
        from licoat.materials import MaterialError, format_material, format_table, list_materials, load_material

        try:
            _say(format_material(load_material(args.name)) if args.name else format_table(list_materials()))
        except MaterialError as exc:
            _say(f"licoat: {exc}", err=True)
            return EXIT_INPUT
        return EXIT_OK

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

    from licoat.meshes import GeometryError

    comm = MPI.COMM_WORLD
    if args.command == "mesh":
        from licoat.studies import mesh_to_directory

        try:
            info = mesh_to_directory(comm, case, Path(args.out))
        except GeometryError as exc:
            _say(f"licoat: invalid geometry: {exc}", err=True)
            return EXIT_INPUT
        _say(f"mesh written to {args.out} ({info.get('cells', '?')} cells)")
        return EXIT_OK

    from licoat.run import run_case
    from licoat.solver.electrochemistry import SolverError

    out = _out_dir(args, case)
    try:
        if args.command == "sweep":
            from licoat.sweep import run_sweep

            run_sweep(comm, args.case, out, args.set, args.vary, verbose=not args.quiet)
        else:
            run_case(comm, case, out, args.case, verbose=not args.quiet)
    except GeometryError as exc:
        _say(f"licoat: invalid geometry: {exc}", err=True)
        return EXIT_INPUT
    except CaseError as exc:
        _say(f"licoat: {exc}", err=True)
        return EXIT_INPUT
    except SolverError as exc:
        _say(f"licoat: solver failed: {exc}", err=True)
        return EXIT_SOLVER
    except ValueError as exc:  # physically inconsistent input found while setting up
        _say(f"licoat: invalid input: {exc}", err=True)
        return EXIT_INPUT
    _say(f"results: {out.resolve()}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
