"""Physics: DOLFINx forms and PETSc solvers. Takes a tagged mesh and materials, returns fields and metrics."""
