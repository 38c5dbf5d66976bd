# licoat on the official DOLFINx image (DOLFINx, PETSc with hypre/MUMPS, parallel ADIOS2/HDF5, MPICH).
#   docker build -t licoat .
#   docker run --rm -v "$PWD/results:/work/results" licoat licoat run cases/default.toml
#   docker run --rm licoat mpiexec -n 4 licoat run cases/default.toml
# Pinned to an exact release tag of the official image; the Apptainer definition (licoat.def) uses
# the same image. Linted by hadolint in tests/test_deploy.py.
FROM ghcr.io/fenics/dolfinx/dolfinx:v0.11.0

# VTK's off-screen rendering (pyvista pictures) needs these two libraries. The versions are those
# of the image's Ubuntu release (pinning Debian revisions would break on every security update).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libglu1-mesa libxrender1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /work
COPY pyproject.toml README.md LICENSE ./
COPY licoat licoat
COPY solver solver
COPY meshes meshes
COPY materials materials
COPY cases cases
COPY tests tests
# DOLFINx is already in the image: install licoat without the pip wheel extra. The local project
# is installed (its dependencies' ranges are in pyproject.toml).
# hadolint ignore=DL3013
RUN python3 -m pip install --no-cache-dir --break-system-packages ".[test]"
ENV PYVISTA_OFF_SCREEN=true
CMD ["licoat", "run", "cases/default.toml"]
