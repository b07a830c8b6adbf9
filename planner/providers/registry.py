"""The provider registry: name → :class:`Provider`, discovered from the subpackages.

Every subpackage of :mod:`planner.providers` that defines ``PROVIDER`` (a
:class:`Provider`) is a provider. Discovery imports only those ``__init__`` modules (a few
constants each); fetchers are named by an ``"module:function"`` entry point and imported
when a refresh asks for them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from planner.errors import CatalogFetchError, InputError
from planner.models.world import SiteKind
from planner.providers.egress import EgressRules, egress_rules
from planner.vocab.suggest import listing


@dataclass(frozen=True)
class Provider:
    """What the core needs to know about one provider."""

    name: str
    """Lower-case name; site ids are ``<name>:<region or site>``."""
    kind: SiteKind
    title: str
    default_regions: tuple[str, ...] = ()
    """Regions a first refresh fetches when no catalog file exists yet."""
    fetch: str | None = None
    """Entry point ``"module:function"`` of the catalog fetcher (cloud providers)."""
    colour: str = "#9c755f"
    """The provider's colour in report charts."""
    instance_facts: str | None = None
    """Entry point ``"module:function"``: instance type name → (family, architecture), for
    rows of imported catalogs (``planner catalog import --format skypilot``)."""

    @property
    def catalog_file(self) -> str | None:
        """The catalog snapshot's file name in a catalog directory (cloud providers)."""
        return f"{self.name}.json" if self.kind is SiteKind.CLOUD else None

    def egress(self) -> EgressRules:
        """The provider's egress price rules (``planner/data/egress.json``)."""
        return egress_rules(self.name)

    def fetcher(self) -> Callable[..., Any]:
        """Import the fetcher (only a refresh does: it imports the cloud SDK)."""
        if self.fetch is None:
            raise CatalogFetchError(f"{self.name} has no catalog fetcher",
                                    hint="only cloud providers are refreshed")
        return self._load(self.fetch, "fetcher")

    def row_facts(self) -> Callable[[str], tuple[str, str]]:
        """The instance-facts parser (see :attr:`instance_facts`)."""
        if self.instance_facts is None:
            raise InputError(f"{self.name} catalogs cannot be imported from instance names",
                             hint="its provider module declares no instance_facts parser")
        return self._load(self.instance_facts, "instance name parser")

    def _load(self, entry: str, what: str) -> Callable[..., Any]:
        """Import ``"module:function"``; a missing module or function is a fetch error."""
        module_name, _, func = entry.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise CatalogFetchError(f"the {self.name} {what} cannot be imported: {exc}",
                                    hint="install the cloud SDKs (boto3, azure-mgmt-compute, "
                                         "azure-identity)") from exc
        fetch = getattr(module, func, None)
        if not callable(fetch):
            raise CatalogFetchError(f"{module_name} has no {func}()")
        return fetch


@cache
def providers() -> dict[str, Provider]:
    """Every provider, by name (sorted)."""
    import planner.providers as package

    found: dict[str, Provider] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        provider = getattr(module, "PROVIDER", None)
        if isinstance(provider, Provider):
            if provider.name != info.name:
                raise ValueError(f"planner/providers/{info.name}: PROVIDER.name is "
                                 f"{provider.name!r}; it must equal the package name")
            found[provider.name] = provider
    return dict(sorted(found.items()))


def cloud_providers() -> dict[str, Provider]:
    """The cloud providers (those with a price catalog), by name."""
    return {n: p for n, p in providers().items() if p.kind is SiteKind.CLOUD}


def onprem_provider() -> Provider:
    """The built-in non-cloud provider (sites the portfolio declares itself)."""
    (provider,) = (p for p in providers().values() if p.kind is SiteKind.ONPREM)
    return provider


def get_provider(name: str, *, path: str | None = None) -> Provider:
    """The provider called ``name``; an unknown name is an ``InputError`` with the choices."""
    found = providers().get(name)
    if found is None:
        raise InputError(f"unknown provider {name!r}", path=path,
                         hint=f"providers: {listing(list(providers()))}")
    return found
