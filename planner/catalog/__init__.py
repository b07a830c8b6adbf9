"""Reading cloud price catalogs: schema, loading, queries, provenance, paths, freshness.

Fetch vs query split: this package only reads snapshot files. The fetchers live in
:mod:`planner.providers` (one subpackage per provider; only their ``fetch`` modules import
cloud SDKs) and the writers (store, lock, serialize, importers) in :mod:`planner.refresh`.
Nothing here imports either.
"""
