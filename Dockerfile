# licoat on the official DOLFINx image (DOLFINx, PETSc with hypre/MUMPS, parallel ADIOS2/HDF5).
#   docker build -t licoat .
#   docker run --rm -v $PWD/results:/work/results licoat licoat run cases/default.toml
#   docker run --rm licoat mpiexec -n 4 licoat run cases/default.toml
FROM ghcr.io/fenics/dolfinx/dolfinx:v0.11.0
WORKDIR /work
COPY pyproject.toml README.md LICENSE ./
COPY licoat licoat
COPY solver solver
COPY meshes meshes
COPY materials materials
COPY cases cases
COPY tests tests
# DOLFINx is already in the image: install licoat without the pip wheel extra
RUN python3 -m pip install --no-cache-dir --break-system-packages ".[test]" \
 && apt-get update && apt-get install -y --no-install-recommends libglu1-mesa libxrender1 && rm -rf /var/lib/apt/lists/*
ENV PYVISTA_OFF_SCREEN=true
CMD ["licoat", "run", "cases/default.toml"]
