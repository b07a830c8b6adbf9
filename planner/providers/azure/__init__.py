"""Microsoft Azure: VM prices from the public Retail Prices API, sizes and restrictions
from the Resource SKUs API (azure-mgmt-compute)."""

from planner.models.world import SiteKind
from planner.providers.registry import Provider

PROVIDER = Provider(
    name="azure", kind=SiteKind.CLOUD, title="Microsoft Azure",
    default_regions=("eastus", "westeurope", "germanywestcentral"),
    fetch="planner.providers.azure.fetch:fetch_azure", colour="#4e79a7",
    instance_facts="planner.providers.azure.sizes:instance_facts",
)
