"""Writing catalog snapshots: the store (validate, compare, atomic swap), its lock, the
deterministic serializer, the importers of other catalog formats and the refresh status.

Only refreshes and imports (``planner catalog …``) use this package; planning reads
snapshots through :mod:`planner.catalog` and never imports it.
"""
