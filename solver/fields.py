"""One registry of the unknowns of a problem: block order, field-split groups and DOF counts.

Every component registers the fields it owns here; nothing else in the solver encodes the order
of the unknowns. A field says where it means something (``volumes`` of the mesh, or the plating
``facets``); outside that set its dofs are pinned to zero (see ``solver/problem.py`` for why the
fields still live on the whole ionic mesh).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Block order of the Newton system (also the order of the residual forms).
ORDER = ("concentration", "potential", "metal_potential", "electrode_potential", "film_potential", "salt_multiplier")

#: The fields assembled as the components of ONE vector-valued P1 unknown (one kernel for all their
#: block pairs, sharing κ(c), D(c) and their derivatives; benchmarks/results/assembly_ab_in_process.json:
#: the same Jacobian 1.3-1.4x faster in CPU time than one block per pair). The metal and film
#: potentials live on small parts of the mesh (pinned elsewhere) and share no property evaluation:
#: as components they would make every element matrix (bs·n)² with mostly pinned rows, and the
#: insertion of that dense block is already over half the Jacobian's cost at bs = 2 (a vector Poisson
#: on the same space takes 57 % of its time); they stay their own blocks, as do the real unknowns.
VECTOR = ("concentration", "potential")

#: Field-split group of each field: AMG on the PDE blocks, point/block Jacobi on the small ones.
SPLIT = {"concentration": "concentration", "potential": "potential", "metal_potential": "metal",
         "film_potential": "film", "electrode_potential": "global", "salt_multiplier": "global"}
SPLIT_PC = {"global": "jacobi", "film": "bjacobi"}  # others: gamg


@dataclass
class Field:
    name: str
    function: object  # dolfinx.fem.Function
    volumes: tuple[str, ...] | None = None  # where the field lives (None: everywhere / global)
    facets: tuple[str, ...] | None = None  # a surface field: lives on these facet groups

    @property
    def split(self) -> str:
        return SPLIT[self.name]

    def owned_size(self) -> int:
        im = self.function.function_space.dofmap.index_map
        return im.size_local * self.function.function_space.dofmap.index_map_bs

    def global_size(self) -> int:
        im = self.function.function_space.dofmap.index_map
        return im.size_global * self.function.function_space.dofmap.index_map_bs


class FieldRegistry:
    def __init__(self):
        self._fields: dict[str, Field] = {}

    def add(self, field: Field) -> Field:
        if field.name not in ORDER:
            raise KeyError(f"unknown field '{field.name}' (known: {', '.join(ORDER)})")
        if field.name in self._fields:
            raise KeyError(f"field '{field.name}' registered twice")
        self._fields[field.name] = field
        return field

    def __contains__(self, name: str) -> bool:
        return name in self._fields

    def __getitem__(self, name: str) -> Field:
        return self._fields[name]

    def ordered(self) -> list[Field]:
        return [self._fields[n] for n in ORDER if n in self._fields]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.ordered()]

    @property
    def functions(self) -> list:
        return [f.function for f in self.ordered()]

    def dofs(self) -> int:
        return int(sum(f.global_size() for f in self.ordered()))

    def vector(self) -> list[Field]:
        """The fields that are the components of the one vector-valued P1 unknown, in block order."""
        return [f for f in self.ordered() if f.name in VECTOR]

    def blocks(self) -> list[Field]:
        """The fields that are their own blocks after the vector unknown (real-valued unknowns, and
        the P1 fields outside ``VECTOR``)."""
        return [f for f in self.ordered() if f.name not in VECTOR]

    def split_index_sets(self, offset: int, owned_nodes: int) -> dict[str, list[np.ndarray]]:
        """Global indices of each split group in the Newton system's layout (kind="mpi"): on every
        rank the owned dofs of the vector unknown come first, node by node with its fields
        interleaved (component i at stride ``bs``), then the owned dofs of each other block."""
        groups: dict[str, list[np.ndarray]] = {}
        vec = self.vector()
        bs = len(vec)
        for i, f in enumerate(vec):
            groups.setdefault(f.split, []).append(offset + i + bs * np.arange(owned_nodes))
        offset += bs * owned_nodes
        for f in self.blocks():
            n = f.owned_size()
            groups.setdefault(f.split, []).append(np.arange(offset, offset + n))
            offset += n
        return groups
