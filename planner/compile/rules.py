"""The rules that prune options before solving, one function per rule.

Each rule decides for one stage at one site (residency, certification,
exclusion, latency) or on one offer (hardware, whole instances, the window); it returns
``None`` when the option passes, or the reason it does not, in plain words (with the fix
when the stage can change). ``rule_group`` names the rule instance a user could relax,
for the infeasibility diagnosis.

A rule reads a stage only through its *ask*: :class:`SiteAsk` (what the site rules
read), :class:`HardwareAsk` (what the hardware rules and the instance count read) or
:class:`TimeAsk` (what the window rule reads).
An ask is hashable, so the candidate generator memoizes rule results per ask: the
memo key is, by construction, everything a rule can read. The site rules use
``SiteAsk.workload`` only to name the workload in their reasons, never to decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from planner.models.limits import MAX_NODES
from planner.models.portfolio import Residency, Stage, Workload
from planner.models.world import Offer, Site, World


class Rule(StrEnum):
    """The rules that prune options up front."""

    RESIDENCY_SITE = "residency.sites"
    RESIDENCY_COUNTRY = "residency.countries"
    RESIDENCY_JURISDICTION = "residency.jurisdictions"
    CERTIFICATION = "residency.certifications"
    EXCLUDED = "placement.excluded"
    LATENCY = "inference.latency"
    GPU_MODEL = "hardware.gpu_model"
    CPU_ONLY = "hardware.cpu_only"
    RESTRICTED = "hardware.restricted"
    FIT = "hardware.fit"
    WINDOW = "calendar.window"
    CONCURRENCY = "capacity.concurrency"


@dataclass(frozen=True)
class StageRef:
    """A stage of a workload, numbered across the portfolio."""

    index: int
    workload: Workload
    stage: Stage

    @property
    def key(self) -> str:
        return f"{self.workload.id}/{self.stage.label}"

    @property
    def residency(self) -> Residency:
        return self.workload.residency_of(self.stage)

    @property
    def units(self) -> int:
        return self.stage.replicas if self.stage.splittable else 1


@dataclass(frozen=True)
class SiteAsk:
    """Everything the site rules read from a stage."""

    workload: str
    """Named in reasons only; empty in an anonymous ask (for memoizing decisions)."""
    sites: tuple[str, ...]
    countries: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    certifications: tuple[str, ...]
    exclude_sites: tuple[str, ...]
    exclude_providers: tuple[str, ...]
    latency: tuple[Decimal, tuple[str, ...]] | None
    """(max ms, user regions) of an inference SLO."""

    @classmethod
    def of(cls, ref: StageRef, *, anonymous: bool = False) -> SiteAsk:
        """A stage's ask; ``anonymous``: without the workload's name (what decides, not
        what is said)."""
        r, pl, slo = ref.residency, ref.workload.placement, ref.stage.latency
        return cls("" if anonymous else ref.workload.id, tuple(r.sites), tuple(r.countries),
                   tuple(r.jurisdictions), tuple(r.certifications), tuple(pl.exclude_sites),
                   tuple(pl.exclude_providers), (slo.max_ms, tuple(slo.users)) if slo else None)


@dataclass(frozen=True)
class HardwareAsk:
    """Everything the hardware rules, the instance count and the fit read from a stage."""

    gpu_models: tuple[str, ...] | None
    """Accepted GPU models in the order the portfolio lists them; None: CPU-only."""
    gpu_count: int
    vcpus: int
    memory_gib: Decimal
    per_unit: int
    """Replicas in one unit: 1 when replicas are placed one by one, else all of them."""
    nodes: int | None
    """A fixed gang: every replica runs on this many instances at once."""
    max_nodes: int | None
    """The planner picks the gang: 1..max_nodes instances per replica."""

    @classmethod
    def of(cls, stage: Stage) -> HardwareAsk:
        gpu = stage.gpu
        return cls(tuple(gpu.models) if gpu else None, gpu.count if gpu else 0, stage.vcpus,
                   stage.memory_gib, 1 if stage.splittable else stage.replicas, stage.nodes,
                   stage.max_nodes)


@dataclass(frozen=True)
class TimeAsk:
    """Everything the window rule reads from a training or testing stage: its run hours on
    each kind of offer it may use (by GPU model; ``None``: an offer without GPUs) and its
    window in whole hours (:mod:`planner.compile.calendar`)."""

    hours: tuple[tuple[str | None, Decimal], ...]
    release: int
    due: int
    until: str
    """What ends the window: ``deadline`` (hard) or ``horizon end`` (none, or soft)."""
    exact: tuple[Decimal, Decimal] | None = None
    """The window in exact hours when it is not whole (it rounds inward)."""

    def late(self, gpu_model: str | None) -> bool:
        """Does the run on ``gpu_model``, in whole hours, overrun the window?"""
        hours = dict(self.hours).get(gpu_model)
        return hours is not None and self.release + math.ceil(hours) > self.due

    def any_late(self) -> bool:
        return any(self.late(model) for model, _ in self.hours)


# ---- rules decided per (stage, site) ----------------------------------------------------


def residency_sites(ask: SiteAsk, site: Site, world: World) -> str | None:
    allowed = ask.sites
    if allowed and site.id not in allowed:
        return f"{site.id} is not among the sites allowed for {ask.workload}'s data"
    return None


def residency_countries(ask: SiteAsk, site: Site, world: World) -> str | None:
    allowed = ask.countries
    if allowed and site.country not in allowed:
        return f"{site.id} is in {site.country}, not in allowed countries {', '.join(allowed)}"
    return None


def residency_jurisdictions(ask: SiteAsk, site: Site, world: World) -> str | None:
    allowed = ask.jurisdictions
    if allowed and not site.jurisdictions.intersection(allowed):
        return (f"{site.id} ({site.country}) is outside allowed jurisdictions "
                f"{', '.join(allowed)}")
    return None


def certifications(ask: SiteAsk, site: Site, world: World) -> str | None:
    missing = sorted(set(ask.certifications) - site.certifications)
    if missing:
        return f"{site.id} lacks required certification {', '.join(missing)}"
    return None


def excluded(ask: SiteAsk, site: Site, world: World) -> str | None:
    if site.id in ask.exclude_sites:
        return f"{site.id} is excluded for {ask.workload}"
    if site.provider in ask.exclude_providers:
        return f"provider {site.provider} is excluded for {ask.workload}"
    return None


def latency(ask: SiteAsk, site: Site, world: World) -> str | None:
    if ask.latency is None:
        return None
    max_ms, users = ask.latency
    for user in users:
        rtt = world.rtt_ms(site.id, user)
        if rtt is None:
            return f"no latency known from {site.id} to {user}; add settings.latency_ms"
        if rtt > max_ms:
            return f"{site.id} is ~{rtt} ms from {user}; SLO is {max_ms} ms"
    return None


SITE_RULES = (
    (Rule.RESIDENCY_SITE, residency_sites),
    (Rule.RESIDENCY_COUNTRY, residency_countries),
    (Rule.RESIDENCY_JURISDICTION, residency_jurisdictions),
    (Rule.CERTIFICATION, certifications),
    (Rule.EXCLUDED, excluded),
    (Rule.LATENCY, latency),
)


def rule_group(rule: Rule, ref: StageRef) -> str:
    """The name of the rule instance a user could relax (for the infeasibility diagnosis)."""
    if rule is Rule.LATENCY:
        return f"{rule.value}:{ref.key}"
    if rule is Rule.EXCLUDED:
        return f"{rule.value}:{ref.workload.id}"
    scope = ref.key if ref.stage.residency is not None else ref.workload.id
    if rule is Rule.RESIDENCY_JURISDICTION and ref.residency is not ref.workload.residency:
        scope = ref.key
    return f"{rule.value}:{scope}"


# ---- rules decided per (stage, offer) ---------------------------------------------------


def gpu_model_accepted(ask: HardwareAsk, offer: Offer) -> str | None:
    if ask.gpu_models is None:
        return None
    if offer.gpu_model not in ask.gpu_models:
        have = offer.gpu_model or "no GPU"
        return f"{offer.id} has {have}; stage accepts {', '.join(ask.gpu_models)}"
    return None


def cpu_only(ask: HardwareAsk, offer: Offer) -> str | None:
    if ask.gpu_models is None and offer.gpu_model:
        return f"{offer.id} carries {offer.gpu_model} GPUs the CPU-only stage would not use"
    return None


def not_restricted(ask: HardwareAsk, offer: Offer) -> str | None:
    if offer.restricted:
        return f"{offer.id} is not available to this subscription: {offer.restricted}"
    return None


# ---- whole instances: a replica, or each node of its gang, fits one instance -----------


def min_nodes(ask: HardwareAsk, offer: Offer) -> int | None:
    """The fewest instances of ``offer`` one replica fits on when its demand is split evenly
    over them (see :func:`node_share`); None when no number does (the offer has less than
    one whole GPU per instance). Every share shrinks as the gang grows, so every larger
    gang fits too."""
    need = [1, math.ceil(ask.vcpus / offer.vcpus), math.ceil(ask.memory_gib / offer.memory_gib)]
    if ask.gpu_models is not None:
        whole_gpus = math.floor(offer.gpu_count)
        if whole_gpus < 1:
            return None
        need.append(math.ceil(ask.gpu_count / whole_gpus))
    return max(need)


def node_share(ask: HardwareAsk, nodes: int) -> tuple[int, Decimal, Decimal]:
    """What each of a replica's ``nodes`` instances must hold at once: GPUs, vCPUs, GiB.

    vCPUs and memory are divided evenly (a node's share may be fractional: it must not
    exceed the instance's). GPUs are not divisible: every node gets ``ceil(count / nodes)``,
    so an uneven split reserves the larger share on every node (6 GPUs over 4 nodes needs
    2 GPUs per node; the spare GPUs idle) and never places a node on a fraction of a GPU.
    """
    return (math.ceil(ask.gpu_count / nodes) if ask.gpu_models is not None else 0,
            Decimal(ask.vcpus) / nodes, ask.memory_gib / nodes)


def nodes_per_replica(ask: HardwareAsk, offer: Offer) -> int | None:
    """Instances each replica runs on at once on ``offer``, or None when it does not fit:
    ``nodes`` when the stage fixes its gang and a node's share fits one instance; with
    ``max_nodes``, the smallest gang in 1..max_nodes that fits (on one offer the cost grows
    with the gang, so the smallest gang that fits is the cheapest there; the solver then
    chooses between offers); else 1 when the whole replica fits one instance."""
    if ask.nodes is None and ask.max_nodes is None:  # the common case, without division
        gpus_fit = ask.gpu_models is None or ask.gpu_count <= offer.gpu_count
        whole = gpus_fit and ask.vcpus <= offer.vcpus and ask.memory_gib <= offer.memory_gib
        return 1 if whole else None
    least = min_nodes(ask, offer)
    if least is None:
        return None
    if ask.nodes is not None:
        return ask.nodes if least <= ask.nodes else None
    return least if ask.max_nodes is not None and least <= ask.max_nodes else None


def _n(x: Decimal | int) -> str:
    """A count for a message: ``1,200``, ``2.5``, ``10.667`` (3 places at most)."""
    d = Decimal(x).quantize(Decimal("0.001")).normalize()
    return f"{d:,f}" if d else "0"


def _amount(x: Decimal | int, unit: str) -> str:
    return f"{_n(x)} GPU{'' if x == 1 else 's'}" if unit == "GPU" else f"{_n(x)} {unit}"


def replica_fits(ask: HardwareAsk, offer: Offer) -> str | None:
    """A replica runs on whole instances of one offer: all of it on one instance, or each
    node's share of its gang (``nodes`` / ``max_nodes``, :func:`node_share`) on one."""
    if nodes_per_replica(ask, offer) is not None:
        return None
    least = min_nodes(ask, offer)
    if least is None:
        return (f"{offer.id} has {_n(offer.gpu_count)} GPU per instance, less than one whole "
                f"GPU; a replica's GPUs are not split below whole GPUs — choose an offer with "
                f"whole GPUs")
    gang = ask.nodes or 1
    gpus, vcpus, gib = node_share(ask, gang)
    pairs: list[tuple[Decimal, Decimal, str]] = [
        (Decimal(gpus), offer.gpu_count, "GPU"), (vcpus, Decimal(offer.vcpus), "vCPUs"),
        (gib, offer.memory_gib, "GiB")]
    short = [(want, got, unit) for want, got, unit in pairs if want > got]
    needs = " and ".join(_amount(want, unit) for want, _, unit in short)
    has = " and ".join(_amount(got, unit) for _, got, unit in short)
    if least > MAX_NODES:
        fix = f"a gang of {least:,} is beyond the limit of {MAX_NODES:,} nodes"
    elif ask.max_nodes is not None:
        fix = f"raise max_nodes to {least}"
    elif ask.nodes is not None:
        fix = f"raise nodes to {least} (or use max_nodes)"
    else:
        fix = f"declare nodes: {least} or max_nodes"
    if ask.max_nodes is not None:
        return (f"needs {needs} at once, {least} × {offer.id} ({has} each); max_nodes is "
                f"{ask.max_nodes} — {fix}, or choose a larger offer")
    per = "at once" if gang == 1 else f"per node of its {gang}-node gang"
    return f"needs {needs} {per}; {offer.id} has {has} — {fix}, or choose a larger offer"


OFFER_RULES = (
    (Rule.GPU_MODEL, gpu_model_accepted),
    (Rule.CPU_ONLY, cpu_only),
    (Rule.RESTRICTED, not_restricted),
    (Rule.FIT, replica_fits),
)


# ---- rules decided per (stage, GPU model): time ----------------------------------------


def window_fit(ask: TimeAsk, offer: Offer) -> str | None:
    """A training or testing run, in whole hours, fits its window: from its release to its
    hard deadline, or to the horizon end when the deadline is soft or absent."""
    if not ask.late(offer.gpu_model):
        return None
    hours = dict(ask.hours)[offer.gpu_model]
    whole_hours = math.ceil(hours)
    rounded = "" if whole_hours == hours else f" ({_n(hours)} h rounded up)"
    on = f" on {offer.gpu_model}" if offer.gpu_model else ""
    length = max(0, ask.due - ask.release)
    fix = ("move the deadline or earliest_start, allow a faster GPU, or make the deadline "
           "soft (late_penalty_usd_per_hour above 0; 0 keeps it hard)"
           if ask.until == "deadline" else
           "start it earlier, allow a faster GPU, or lengthen the horizon "
           "(settings.period_hours or settings.horizon.end)")
    inward = "" if ask.exact is None else (
        f", {_n(ask.exact[0])} → {_n(ask.exact[1])} rounded inward to whole hours, in which "
        "the planner schedules")
    return (f"runs {whole_hours:,} h{rounded}{on}; its window is {length:,} h (start "
            f"{ask.release:,} → {ask.until} {ask.due:,}{inward}) — {fix}")


