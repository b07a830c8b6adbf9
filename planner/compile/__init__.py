"""Compile a portfolio against the catalogs into a placement problem.

portfolio + catalogs → :mod:`resolve` (a :class:`~planner.models.world.World`) → :mod:`market`
(the world's offers as arrays) → :mod:`screening` (which (stage, offer, purchase) options the
:mod:`rules` allow) → :mod:`pricing` (every option priced at once; :mod:`exact`,
:mod:`magnitudes`) → :mod:`candidates` (an :mod:`options` table, :mod:`pruned` records) →
:mod:`arrays` (a :class:`~planner.models.problem.Problem`).
Solvers consume the Problem and nothing else."""
