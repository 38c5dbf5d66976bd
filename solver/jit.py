"""JIT (FFCx -> CFFI -> C compiler) options for licoat's forms: ``fem.form(..., jit_options=JIT_OPTIONS)``.

Choice: ``-O2 -g0 -march=native`` (DOLFINx's default is ``-O2 -g0``). Measured with
``benchmarks/jit_options.py`` (results in ``benchmarks/results/jit_options.json``): Newton Jacobian
of a 3D planar cell (bare Li, 1 M LiPF6 with the Nyman kappa(c), D(c) fits, 135,072 tetrahedra,
44,881 DOFs, one rank, AMD EPYC, a shared machine under load: fastest of 5 interleaved rounds),
assembly into a preallocated matrix:

=====================  ==========  ===============
flags                   Jacobian    / default
=====================  ==========  ===============
-O2 -g0 (default)       2.83 s      1.00
-O3 -g0                 2.62 s      0.93
-O2 -g0 -march=native   1.96 s      0.69
-O3 -g0 -march=native   2.31 s      0.82
=====================  ==========  ===============

The residual vector (0.31-0.35 s) does not change beyond the noise, nor does compile time (10-15 s).
All four give the same matrix (norms equal to round-off); no ``-ffast-math``: the kernels use
exp/log of the Butler-Volmer and concentration terms, which must keep IEEE semantics.

Safety of ``-march=native``: a form compiled on one CPU could fail (illegal instruction) on another
that shares the JIT cache (a cluster's home directory). The flags therefore also carry
``-DLICOAT_CPU=<cpu_tag()>``, a hash of the CPU model and its instruction-set flags; FFCx puts the
compiler flags into the module's cache signature, so each CPU type compiles its own module.
``LICOAT_JIT_NATIVE=0`` in the environment drops ``-march=native`` (portable default flags).
"""

from __future__ import annotations

import hashlib
import os
import platform


def cpu_tag() -> str:
    """12 hex digits identifying the CPU model and its instruction-set flags (Linux /proc/cpuinfo)."""
    text = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read().split("\n\n")[0]
        text += "".join(line for line in info.splitlines() if line.startswith(("model name", "flags", "Features")))
    except OSError:
        pass
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def compile_args(native: bool | None = None) -> list[str]:
    """C compiler flags for the JIT: default ``-O2 -g0``, plus ``-march=native`` and the CPU tag when
    ``native`` (default: unless ``LICOAT_JIT_NATIVE=0``)."""
    if native is None:
        native = os.environ.get("LICOAT_JIT_NATIVE", "1") not in ("0", "false", "no")
    args = ["-O2", "-g0"]
    if native:
        args += ["-march=native", f"-DLICOAT_CPU={cpu_tag()}"]
    return args


#: ``jit_options`` for ``dolfinx.fem.form`` / ``NonlinearProblem`` / ``LinearProblem``.
# timeout: several processes (mpiexec ranks, sweep points) compile the same new form at once and wait on
# FFCx's file lock; under load the default 10 s wait was seen to expire
JIT_OPTIONS: dict = {"cffi_extra_compile_args": compile_args(), "timeout": 120}


def _raise_default_timeout():
    """Every form licoat compiles (metrics, expressions too) waits up to 120 s on the compile lock."""
    from licoat import import_stack

    import_stack()
    import dolfinx.jit

    dolfinx.jit.DOLFINX_DEFAULT_JIT_OPTIONS["timeout"] = (JIT_OPTIONS["timeout"], "Timeout for JIT compilation")


_raise_default_timeout()
