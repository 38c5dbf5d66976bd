"""Failure on any rank: end every rank promptly, with the failing rank's message.

An exception raised on one rank only would leave the others blocked in their next collective
(a hang). The CLI therefore ends a failed run through :func:`finish`:

1. the failing rank enters a non-blocking barrier on a communicator reserved for failures
   (:func:`failure_comm`, duplicated at start-up so that it never matches a solver collective);
2. if every rank reaches it within ``AGREE_TIMEOUT_S`` (a collective failure such as a Newton
   solve that failed on all ranks), rank 0 prints the message and every rank returns the exit code;
3. otherwise the failing rank prints ``licoat: rank r: <message>`` on standard error, appends it to
   the log and calls ``MPI_Abort(code)``: mpiexec ends all ranks and exits with that code.

Exit codes: 2 invalid input, 3 solver failure, 1 anything else. :func:`mark_failed` keeps the
staging directory ``<out>.partial`` with a ``FAILED`` file stating the reason (input errors
remove it instead: nothing is written for invalid input).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

AGREE_TIMEOUT_S = float(os.environ.get("LICOAT_FAILURE_AGREE_S", "10"))
ABORT_GRACE_S = 1.0
_COMM = None


def failure_comm(comm):
    """The communicator used only to agree on failures (created collectively, once)."""
    global _COMM
    if _COMM is None or _COMM[0] is not comm:
        _COMM = (comm, comm.Dup())
    return _COMM[1]


def exit_code(exc: BaseException) -> int:
    """2 invalid input, 3 solver failure, 1 other."""
    from licoat.case import CaseError

    try:
        from licoat.meshes import GeometryError
    except ImportError:  # pragma: no cover - meshes always importable with the stack
        GeometryError = CaseError  # noqa: N806
    name = type(exc).__name__
    if isinstance(exc, (CaseError, GeometryError)) or name == "MaterialError":
        return 2
    if name == "SolverError":
        return 3
    if isinstance(exc, ValueError):  # physically inconsistent input found while setting up
        return 2
    return 1


def message(exc: BaseException) -> str:
    """One line (first lines joined) naming the kind of failure."""
    code = exit_code(exc)
    text = str(exc).strip() or type(exc).__name__
    if code == 3:
        return f"solver failed: {text}"
    if code == 2:
        from licoat.case import CaseError

        return text if isinstance(exc, CaseError) else (
            f"invalid geometry: {text}" if type(exc).__name__ == "GeometryError" else f"invalid input: {text}")
    missing = _missing_dependency(exc)
    if missing:
        return missing
    if isinstance(exc, OutputError):
        return text
    if isinstance(exc, OSError):  # e.g. disk full, permission denied while writing
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"cannot write results{where}: {exc.strerror or text}"
    return f"{type(exc).__name__}: {text}"


class OutputError(OSError):
    """The results cannot be written (output directory not writable, disk full): exit 1."""


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name next to ``path``, then rename: a reader never sees a partial file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from exc


_OPTIONAL = {
    "pyvista": "pictures need pyvista: pip install 'licoat[viz]'",
    "adios2": "field output needs DOLFINx with ADIOS2 (VTXWriter): use [output] fields = false, or a DOLFINx build with ADIOS2",
}


def _missing_dependency(exc: BaseException) -> str | None:
    if not isinstance(exc, ImportError):
        return None
    name = (exc.name or "").split(".")[0]
    text = str(exc)
    if "VTXWriter" in text or "adios2" in text.lower():
        name = "adios2"
    return f"missing optional dependency '{name}': {_OPTIONAL.get(name, text)}"


def mark_failed(staging_dir: Path, exc: BaseException, rank: int) -> None:
    """Leave ``<out>.partial`` with FAILED (solver and other failures) or remove it (invalid input).

    Runs on the failing rank only, without collectives (the other ranks may be anywhere)."""
    import shutil

    d = Path(staging_dir)
    if not d.exists():
        return
    if exit_code(exc) == 2:
        shutil.rmtree(d, ignore_errors=True)
        return
    text = (f"licoat run FAILED on rank {rank} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n"
            f"exit code {exit_code(exc)}: {message(exc)}\n")
    if exit_code(exc) == 1:  # unexpected: keep the traceback for a bug report
        text += "\n" + "".join(traceback.format_exception(exc))
    try:
        atomic_write(d / "FAILED", text)
        with open(d / "licoat.log", "a") as fh:
            fh.write(f"rank {rank}: {message(exc)}\n")
    except OSError:
        pass


def finish(comm, exc: BaseException, say) -> int:
    """End a failed run on this rank: returns the exit code, or aborts the job (see module doc)."""
    code = exit_code(exc)
    msg = message(exc)
    if comm is None or comm.size == 1:
        say(f"licoat: {msg}")
        return code
    fcomm = failure_comm(comm)
    req = fcomm.Ibarrier()
    t0 = time.monotonic()
    while not req.Test():
        if time.monotonic() - t0 > AGREE_TIMEOUT_S:
            print(f"licoat: rank {comm.rank}: {msg}", file=sys.stderr, flush=True)
            # mpiexec forwards a rank's stderr asynchronously and drops what it has not read when
            # MPI_Abort kills the job: give the forwarder a moment so the message reaches the user.
            time.sleep(ABORT_GRACE_S)
            comm.Abort(code)
        time.sleep(0.01)
    if comm.rank == 0:  # every rank failed: one message
        say(f"licoat: {msg}")
    return code
