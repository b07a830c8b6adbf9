"""Compile a portfolio against the catalogs into a placement problem.

portfolio + catalogs → :mod:`resolve` (a :class:`~planner.models.world.World`) → :mod:`rules` and
:mod:`pricing` → :mod:`candidates` → :mod:`arrays` (a :class:`~planner.models.problem.Problem`).
Solvers consume the Problem and nothing else."""
