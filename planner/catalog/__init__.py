"""Cloud price catalogs: schema, loading, fetchers (AWS, Azure) and the store.

Fetch vs query split: only ``planner.providers.aws.fetch`` and ``planner.providers.azure.fetch``
import cloud SDKs; everything else reads snapshot files.
"""
