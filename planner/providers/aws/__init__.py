"""Amazon Web Services: EC2 prices from the Price List API (or its public bulk files),
instance facts from EC2, spot prices from the spot price history."""

from planner.models.world import SiteKind
from planner.providers.registry import Provider

PROVIDER = Provider(
    name="aws", kind=SiteKind.CLOUD, title="Amazon Web Services",
    default_regions=("us-east-1", "us-west-2", "eu-central-1", "eu-west-1"),
    fetch="planner.providers.aws.fetch:fetch_aws", colour="#f28e2b",
    instance_facts="planner.providers.aws.families:instance_facts",
)
