"""On-prem data centres: the built-in non-cloud provider. Its sites, offers and egress
prices come from the portfolio (``onprem:`` entries), not from a catalog."""

from planner.models.world import SiteKind
from planner.providers.registry import Provider

PROVIDER = Provider(name="onprem", kind=SiteKind.ONPREM, title="On-prem data centre",
                    colour="#59a14f")
