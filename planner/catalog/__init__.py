"""Cloud price catalogs: schema, loading, fetchers (AWS, Azure) and the store.

Fetch vs query split: only ``planner.catalog.aws`` and ``planner.catalog.azure``
import cloud SDKs; everything else reads snapshot files.
"""
