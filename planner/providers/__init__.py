"""Providers as plug-ins: one subpackage per provider, found through :mod:`.registry`.

Each subpackage (``aws``, ``azure``, ``onprem`` …) declares a ``PROVIDER`` object in its
``__init__``: its kind (cloud or on-prem), its catalog file, the regions a first refresh
fetches, the entry point of its fetcher (imported only when a refresh runs, so planning
never imports a cloud SDK) and its report colour. Its egress rules live in
``planner/data/egress.json`` (:mod:`.egress`). Adding a provider means adding a
subpackage, an egress entry and a catalog; the core looks providers up by name and never
spells one out. See CONTRIBUTING.md, "Adding a provider".
"""
