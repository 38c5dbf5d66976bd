"""licoat: how uniformly lithium plates under ALD/MLD coatings (DOLFINx + Gmsh).

The top-level folders of the repository map into this namespace:
``solver/`` -> ``licoat.solver``, ``meshes/`` -> ``licoat.meshes``,
``materials/`` -> ``licoat.materials``.
"""

__version__ = "0.1.0"


def import_stack():
    """Import the DOLFINx/PETSc stack in the order the pip wheel needs.

    ``dolfinx-solver-real`` must be imported before ``dolfinx``/``petsc4py`` so that
    MPI is initialised by the vendored mpi4py; where DOLFINx comes from a container
    or conda the import simply fails and the system stack is used.
    """
    try:
        import dolfinx_solver  # noqa: F401
    except ImportError:
        pass
    import dolfinx

    return dolfinx
