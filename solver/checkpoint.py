"""Checkpoint and restart of transient runs, N-to-M ranks, on the pip stack.

Route (physics.md §11: the pip wheels of adios2/h5py are serial, so io4dolfinx cannot read
N-to-M there): a checkpoint is one ``checkpoint/state.npz`` that rank 0 writes from arrays
gathered over the ranks: for every P1 field the **coordinates of its dofs** (the mesh nodes) and
the values. On restart every rank reads the file and takes, for each of its dofs (owned and
ghost), the value stored at the same node, found with a k-d tree (scipy) within 1e-9 of the
domain size. Node coordinates identify a node whatever the number of ranks and whether the mesh
came from Gmsh or from the mesh cache; the input node indices (``geometry.input_global_indices``)
do not survive the cache's XDMF round trip, so they are not used. Real-valued (global) unknowns
are stored once. The file is written to a temporary name and renamed, so a killed run leaves the
previous checkpoint whole.

Cost: O(global dofs) memory on rank 0 while writing and on every rank while reading — fine for
the meshes licoat runs on a workstation or a few nodes; a parallel HDF5 (the DOLFINx container's
ADIOS2) would be needed beyond that.

Stored: the integrator's loop state (t, next dt, dt_prev, step counts, the last accepted
(t, c_min); with a protocol, the step, its start time and the charge it has passed), the time series so far, Newton/linear iteration counters, every array of
``cell.state()`` (the unknowns and the two BDF history levels), and the resolved case without its
``[output]`` section, which a restart must match exactly.
"""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import numpy as np

FORMAT = "licoat-checkpoint-2"
FILE = "state.npz"


class CheckpointError(ValueError):
    """A restart directory without a usable checkpoint, or one written for another case (exit 2)."""


def _case_key(case) -> dict:
    from licoat.case import resolved_dict

    d = resolved_dict(case)
    d.pop("output", None)
    return json.loads(json.dumps(d, default=float))


def _spaces(cell):
    """Function space of every array of cell.state(): the unknowns, then c_n, c_nm1 (c's space)."""
    spaces = [u.function_space for u in cell.unknowns]
    n_extra = len(cell.state()) - len(spaces)
    return spaces + [cell.unknowns[0].function_space] * n_extra


def _coords(V) -> np.ndarray | None:
    """Coordinates of every local dof (owned + ghost) of a scalar P1 space; None for a real space."""
    im = V.dofmap.index_map
    if im.size_global == 1:
        return None
    if V.dofmap.index_map_bs != 1 or V.element.basix_element.degree != 1:
        raise NotImplementedError("checkpoints support scalar P1 fields")
    return np.asarray(V.tabulate_dof_coordinates(), dtype=float)[: im.size_local + im.num_ghosts]


class Checkpointer:
    """Writes ``directory/state.npz`` every ``every`` accepted steps (int) or simulated seconds (float)."""

    def __init__(self, cell, case, directory: Path, every, log=None):
        self.cell, self.case, self.dir, self.every, self.log = cell, case, Path(directory), every, log
        self.by_steps = isinstance(every, int) and not isinstance(every, bool)
        if not (self.by_steps and every >= 1) and not (not self.by_steps and float(every) > 0):
            raise ValueError(f"output.checkpoint_every = {every!r}: an integer number of steps >= 1 or a time > 0 s")
        self.next_t = None if self.by_steps else float(every)
        self.written = 0
        comm = cell.comm
        self._coords = [_coords(V) for V in _spaces(cell)]
        self._owned = [V.dofmap.index_map.size_local for V in _spaces(cell)]
        if comm.rank == 0:
            self.dir.mkdir(parents=True, exist_ok=True)

    def start_after(self, loop: dict) -> None:
        """After a restart: the next checkpoint time follows the restored time."""
        if not self.by_steps:
            self.next_t = (math.floor(loop["t"] / self.every + 1e-9) + 1) * self.every

    def __call__(self, loop: dict) -> None:
        """``integrate(..., checkpoint=this)``: called after every accepted step with the loop state."""
        if self.by_steps:
            due = loop["steps"] % self.every == 0
        else:
            due = loop["t"] >= self.next_t * (1 - 1e-12)
            if due:
                self.next_t = (math.floor(loop["t"] / self.every + 1e-9) + 1) * self.every
        if due:
            self.write(loop)

    def write(self, loop: dict) -> None:
        cell, comm = self.cell, self.cell.comm
        if hasattr(cell, "forget_solver_memory"):  # a restart from here then repeats the uninterrupted path
            cell.forget_solver_memory()
        arrays = {}
        for i, (a, x, n) in enumerate(zip(cell.state(), self._coords, self._owned)):
            if x is None:  # real space: one value, the same on every rank
                if comm.rank == 0:
                    arrays[f"real_{i}"] = np.array([a[0]])
                continue
            parts = comm.gather((x[:n], a[:n]), root=0)
            if comm.rank == 0:
                arrays[f"coords_{i}"] = np.concatenate([p[0] for p in parts])
                arrays[f"values_{i}"] = np.concatenate([p[1] for p in parts])
        if comm.rank != 0:
            return
        meta = {
            "format": FORMAT, "ranks": comm.size, "case": _case_key(self.case), "n_arrays": len(self._coords),
            "loop": {k: loop.get(k) for k in ("t", "dt", "dt_prev", "prev", "steps", "rejected_steps", "depletion_time_s",
                                              "protocol")},  # protocol: step, its start time and charge
            "series": loop["series"],
            "newton_iterations": int(getattr(cell, "newton_iterations", 0)),
            "linear_iterations": int(getattr(cell, "linear_iterations", 0)),
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta, default=float).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path = self.dir / FILE
        tmp = path.with_name(f".{FILE}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)  # a killed run leaves the previous checkpoint whole
        self.written += 1
        if self.log is not None:
            self.log.info("checkpoint at t = %.6g s (step %d): %s", loop["t"], loop["steps"], path)


def find(directory: Path) -> Path:
    """The checkpoint file of a run directory (``<out>``, ``<out>.partial``, or its checkpoint/ folder)."""
    d = Path(directory)
    for p in (d / "checkpoint" / FILE, d / FILE):
        if p.is_file():
            return p
    raise CheckpointError(f"--restart {directory}: no checkpoint found (expected {d / 'checkpoint' / FILE}; "
                          "set [output] checkpoint_every in the case to write one)")


def load(comm, directory: Path, case) -> dict:
    """Read a checkpoint (every rank) into memory and check that it belongs to ``case``."""
    path = find(directory)
    try:
        with np.load(path) as data:
            raw = {k: data[k] for k in data.files}
        meta = json.loads(raw.pop("meta").tobytes().decode())
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt file
        raise CheckpointError(f"--restart {directory}: cannot read {path} ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"--restart {directory}: {path} is not a {FORMAT} file")
    want, have = _case_key(case), meta["case"]
    diff = _first_difference(have, want)
    if diff is not None:
        raise CheckpointError(f"--restart {directory}: the case differs from the checkpoint's at {diff} "
                              "(a restart continues the same case; only [output] may change)")
    meta["arrays"] = raw
    meta["path"] = str(path)
    return meta


def _first_difference(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            d = _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
            if d is not None:
                return d
        return None
    if isinstance(a, float) or isinstance(b, float):
        try:
            return None if math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0) else f"{path} ({a!r} -> {b!r})"
        except (TypeError, ValueError):
            pass
    return None if a == b else f"{path} ({a!r} -> {b!r})"


def restore(cell, ckpt: dict) -> dict:
    """Put the checkpoint's arrays into ``cell`` (any number of ranks); returns the loop state for
    ``integrate(..., start=...)``."""
    arrays = ckpt["arrays"]
    spaces = _spaces(cell)
    if len(spaces) != ckpt["n_arrays"]:
        raise CheckpointError(f"checkpoint {ckpt['path']} holds {ckpt['n_arrays']} fields, this problem has {len(spaces)}")
    from scipy.spatial import cKDTree

    state = cell.state()
    trees = {}
    for i, (V, a) in enumerate(zip(spaces, state)):
        x = _coords(V)
        if x is None:
            a[:] = arrays[f"real_{i}"][0]
            continue
        X, v = arrays[f"coords_{i}"], arrays[f"values_{i}"]
        key = X.tobytes().__hash__()
        tree = trees.get(key) or trees.setdefault(key, cKDTree(X))
        dist, idx = tree.query(x)
        tol = 1e-9 * float(np.linalg.norm(X.max(axis=0) - X.min(axis=0)))
        if x.size and float(dist.max()) > tol:
            raise CheckpointError(f"checkpoint {ckpt['path']}: the mesh differs from the one it was written on "
                                  f"(a node {float(dist.max()):.3g} m away from every stored node)")
        a[:] = v[idx]
    cell.restore(state)
    for u in cell.unknowns:
        u.x.scatter_forward()
    for name in ("newton_iterations", "linear_iterations"):
        if hasattr(cell, name):
            setattr(cell, name, int(ckpt[name]))
    loop = dict(ckpt["loop"])
    loop["prev"] = tuple(loop["prev"]) if loop["prev"] is not None else None
    loop["series"] = list(ckpt["series"])
    return loop
