"""What-if changes to the calendar: moved deadlines, on-prem outages, and on-prem nodes
added from a date (the ``deadlines``, ``outages`` and ``more_nodes`` of a scenario).

Each change is checked against the portfolio it edits: names (with the closest match),
times within the horizon (dates need ``settings.horizon.start``; an outage need only
overlap it, and counts inside it), windows that still open before they close, and
outages that never take more nodes than a node class has.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import InputError
from planner.models import limits as lim
from planner.models.calendar import Outage, TimePoint, as_datetime, hours_from_start, shown
from planner.models.calendar_checks import overbooked
from planner.models.limits import Range
from planner.models.portfolio import Portfolio
from planner.models.world import World
from planner.vocab.gpus import closest


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineChange(_Strict):
    """Move a stage's deadline (a date, or hours from the horizon start); ``null`` removes
    it (and a late penalty with it)."""

    workload: str
    stage: str = Field(description="the stage's name, or its kind when it has none")
    deadline: TimePoint | None


class OutageAdded(_Strict):
    """``nodes`` nodes of an on-prem node class are down during ``[from, to)``."""

    site: str
    offer: str
    from_: TimePoint = Field(alias="from")
    to: TimePoint
    nodes: Annotated[int, Range(1, lim.MAX_COUNT, "nodes")]


class NodesAdded(_Strict):
    """``nodes`` more nodes of an on-prem node class, in service from ``from``: the node
    class gains them for the whole horizon, and an outage of those nodes covers
    ``[horizon start, from)``, so they serve only from ``from`` on."""

    site: str
    offer: str
    nodes: Annotated[int, Range(1, lim.MAX_COUNT, "nodes")]
    from_: TimePoint = Field(alias="from")


def check_name(kind: str, name: str | None, valid: set[str], path: str) -> None:
    """An unknown name is an error with the closest valid one (or the valid ones)."""
    if name is not None and name not in valid:
        guess = closest(name, valid)
        raise InputError(f"unknown {kind} {name!r}", path=path,
                         hint=f"did you mean {guess!r}?" if guess
                         else f"valid: {', '.join(sorted(valid)[:12])}")


def apply_calendar(portfolio: Portfolio, world: World, deadlines: list[DeadlineChange],
                   outages: list[OutageAdded], more_nodes: list[NodesAdded], path: str,
                   touched: dict[tuple[str, str], str]) -> tuple[Portfolio, World]:
    """Moved deadlines; the node counts of on-prem node classes the scenario's
    ``capacity`` changed (``touched``: the path of the last change of each); nodes added
    from a date; added outages — in this order (each checked against the horizon); then
    no outage may take more nodes than there are, for every node class touched."""
    for j, d in enumerate(deadlines):
        portfolio = _move_deadline(portfolio, d, f"{path}.deadlines[{j}]")
    for site, offer in touched:  # capacity changes: the node class has that many nodes
        portfolio = _capacity_nodes(portfolio, world, site, offer)
    for j, n in enumerate(more_nodes):
        portfolio, world = _add_nodes(portfolio, world, n, f"{path}.more_nodes[{j}]")
        touched[(n.site, n.offer)] = f"{path}.more_nodes[{j}].nodes"
    for j, o in enumerate(outages):
        portfolio = _add_outage(portfolio, o, f"{path}.outages[{j}]")
        touched[(o.site, o.offer)] = f"{path}.outages[{j}].nodes"
    for (site, offer), where in sorted(touched.items()):
        _check_nodes_down(portfolio, world, site, offer, where)
    return portfolio, world


def _hours_of(portfolio: Portfolio, value: TimePoint, path: str) -> Decimal:
    """Hours from the horizon start of a scenario's time, wherever it lies."""
    settings = portfolio.settings
    try:
        return hours_from_start(value, settings.horizon.start if settings.horizon else None)
    except ValueError as exc:
        raise InputError(f"the date {shown(value)} needs a horizon start", path=path,
                         hint="set settings.horizon.start in the portfolio, or give hours "
                              "from the horizon start") from exc


def _in_horizon(portfolio: Portfolio, value: TimePoint, path: str) -> Decimal:
    """Hours from the horizon start of a scenario's time, which must lie in the horizon."""
    hours = _hours_of(portfolio, value, path)
    period = portfolio.settings.period_hours
    if not Decimal(0) <= hours <= period:
        offset = "" if isinstance(value, Decimal) else f" ({hours:.6g} h from its start)"
        raise InputError(f"{shown(value)} is outside the horizon [0, {period:.6g}] h{offset}",
                         path=path,
                         hint=f"give a time from {_moment(portfolio, Decimal(0))} to "
                              f"{_moment(portfolio, period)}")
    return hours


def _moment(portfolio: Portfolio, hours: Decimal) -> str:
    """Hours from the horizon start as a date (when the horizon has a start) or hours."""
    horizon = portfolio.settings.horizon
    if horizon is None:
        return f"hour {hours:g}"
    return shown(as_datetime(horizon.start) + timedelta(hours=float(hours)))


def _move_deadline(portfolio: Portfolio, c: DeadlineChange, path: str) -> Portfolio:
    ids = [w.id for w in portfolio.workloads]
    check_name("workload", c.workload, set(ids), f"{path}.workload")
    wi = ids.index(c.workload)
    w = portfolio.workloads[wi]
    labels = [st.label for st in w.stages]
    check_name(f"stage of {w.id}", c.stage, set(labels), f"{path}.stage")
    si = labels.index(c.stage)
    st = w.stages[si]
    update: dict[str, object] = {"deadline": c.deadline}
    if c.deadline is None:
        update["late_penalty_usd_per_hour"] = None
    else:
        due = _in_horizon(portfolio, c.deadline, f"{path}.deadline")
        start = None if st.earliest_start is None else _in_horizon(
            portfolio, st.earliest_start, f"{path}.deadline")
        if st.kind == "inference":
            _check_golive(c, st.earliest_start, due, start, path)
        elif start is not None and due <= start:
            raise InputError(f"deadline {shown(c.deadline)} is not after {w.id}/{c.stage}'s "
                             f"earliest_start {shown(st.earliest_start)}",
                             path=f"{path}.deadline",
                             hint="give a later deadline")
    stages = list(w.stages)
    stages[si] = st.model_copy(update=update)
    workloads = list(portfolio.workloads)
    workloads[wi] = w.model_copy(update={"stages": stages})
    return portfolio.model_copy(update={"workloads": workloads})


def _check_golive(c: DeadlineChange, earliest: TimePoint | None, due: Decimal,
                  start: Decimal | None, path: str) -> None:
    """An inference stage's deadline is its go-live (live by): the same hour as its
    ``earliest_start`` when it has one (the portfolio's rule,
    :func:`planner.models.calendar_checks.check_calendar`, which the changed portfolio is
    checked against too; here the error names the scenario's field)."""
    if start is not None and due != start:
        raise InputError(f"{c.workload}/{c.stage} is an inference stage: it goes live at one "
                         f"fixed hour, and its earliest_start {shown(earliest)} sets it, so "
                         f"deadline {shown(c.deadline)} could have no effect",
                         path=f"{path}.deadline",
                         hint="give its earliest_start as the deadline (or change the "
                              "portfolio's earliest_start)")


def _onprem_offer(portfolio: Portfolio, site: str, offer: str, path: str) -> tuple[int, int]:
    """Where an on-prem node class is in the portfolio (unknown names: an error)."""
    sites = [s.id for s in portfolio.onprem]
    if site not in sites and not site.startswith("onprem:") and ":" in site:
        raise InputError(f"{site!r} is a cloud region: outages and more_nodes change on-prem "
                         "node classes only", path=f"{path}.site",
                         hint=(f"name an on-prem site ({', '.join(sites)}); " if sites else "")
                         + "a cloud region's capacity is its quota (the scenario's "
                           "`capacity`)")
    if not sites:
        raise InputError(f"unknown on-prem site {site!r}", path=f"{path}.site",
                         hint="the portfolio has no on-prem sites (outages and more_nodes "
                              "apply to its onprem[].offers[])")
    check_name("on-prem site", site, set(sites), f"{path}.site")
    i = sites.index(site)
    offers = [o.id for o in portfolio.onprem[i].offers]
    check_name(f"node class at {site}", offer, set(offers), f"{path}.offer")
    return i, offers.index(offer)


def _with_offer(portfolio: Portfolio, i: int, j: int, update: dict[str, object]) -> Portfolio:
    site = portfolio.onprem[i]
    offers = list(site.offers)
    offers[j] = offers[j].model_copy(update=update)
    onprem = list(portfolio.onprem)
    onprem[i] = site.model_copy(update={"offers": offers})
    return portfolio.model_copy(update={"onprem": onprem})


def _find(portfolio: Portfolio, site: str, offer: str) -> tuple[int, int] | None:
    """Where an on-prem node class is in the portfolio, if it is there."""
    return next(((i, j) for i, s in enumerate(portfolio.onprem) if s.id == site
                 for j, o in enumerate(s.offers) if o.id == offer), None)


def _nodes(portfolio: Portfolio, world: World, i: int, j: int) -> int:
    """The nodes of a node class: the world's count (after a ``capacity`` change and
    nodes added), else the portfolio's."""
    offer = portfolio.onprem[i].offers[j]
    live = world.offer(portfolio.onprem[i].id, offer.id)
    return live.capacity if live is not None and live.capacity is not None else offer.nodes


def _capacity_nodes(portfolio: Portfolio, world: World, site: str, offer: str
                    ) -> Portfolio:
    """The node class's ``nodes`` as a ``capacity`` change set them in the world, so that
    the portfolio's own rules (its outages against its nodes) count the same nodes; a
    change to 0 instances leaves them (a node class has at least one node: the world's 0
    refuses any outage)."""
    at = _find(portfolio, site, offer)
    if at is None or not _nodes(portfolio, world, *at):
        return portfolio
    return _with_offer(portfolio, *at, {"nodes": _nodes(portfolio, world, *at)})


def _add_outage(portfolio: Portfolio, c: OutageAdded, path: str) -> Portfolio:
    i, j = _onprem_offer(portfolio, c.site, c.offer, path)
    begin = _hours_of(portfolio, c.from_, f"{path}.from")
    end = _hours_of(portfolio, c.to, f"{path}.to")
    if end <= begin:
        raise InputError(f"outage ends at {shown(c.to)}, not after it starts "
                         f"({shown(c.from_)})",
                         path=f"{path}.to", hint="give a `to` after `from`")
    period = portfolio.settings.period_hours
    if end <= 0 or begin >= period:  # one that overlaps the horizon counts inside it
        raise InputError(f"outage [{shown(c.from_)}, {shown(c.to)}) lies outside the "
                         f"horizon [0, {period:.6g}] h", path=f"{path}.from",
                         hint=f"give an outage that overlaps {_moment(portfolio, Decimal(0))}"
                              f" to {_moment(portfolio, period)}")
    offer = portfolio.onprem[i].offers[j]
    down = Outage.model_validate({"from": c.from_, "to": c.to, "nodes": c.nodes})
    return _with_offer(portfolio, i, j, {"outages": [*offer.outages, down]})


def _add_nodes(portfolio: Portfolio, world: World, c: NodesAdded, path: str
               ) -> tuple[Portfolio, World]:
    """``c.nodes`` more nodes, and an outage of them over [horizon start, ``c.from_``)."""
    i, j = _onprem_offer(portfolio, c.site, c.offer, path)
    offer = portfolio.onprem[i].offers[j]
    nodes = _nodes(portfolio, world, i, j)
    if nodes + c.nodes > lim.MAX_COUNT:
        raise InputError(f"{nodes} + {c.nodes} nodes is more than the "
                         f"{lim.MAX_COUNT:,} a node class may have", path=f"{path}.nodes",
                         hint="add fewer nodes")
    outages = list(offer.outages)
    if _in_horizon(portfolio, c.from_, f"{path}.from") > 0:
        outages.append(Outage.model_validate({"from": Decimal(0), "to": c.from_,
                                              "nodes": c.nodes}))
    portfolio = _with_offer(portfolio, i, j, {"nodes": nodes + c.nodes,
                                              "outages": outages})
    offers = tuple(replace(o, capacity=(o.capacity or 0) + c.nodes)
                   if (o.site_id, o.id) == (c.site, c.offer) else o for o in world.offers)
    return portfolio, replace(world, offers=offers)


def _check_nodes_down(portfolio: Portfolio, world: World, site: str, offer_id: str,
                      path: str) -> None:
    """At no time do a node class's outages take more nodes than it has: the rule the
    portfolio's own outages are validated by
    (:func:`~planner.models.calendar_checks.overbooked`)."""
    at = _find(portfolio, site, offer_id)
    if at is None:
        return
    offer = portfolio.onprem[at[0]].offers[at[1]]
    nodes = _nodes(portfolio, world, *at)
    start = portfolio.settings.horizon.start if portfolio.settings.horizon else None
    spans = [(hours_from_start(o.from_, start), hours_from_start(o.to, start), o.nodes)
             for o in offer.outages]
    found = overbooked(spans, nodes, portfolio.settings.period_hours)
    if found is not None:
        raise InputError(f"outages of {site}/{offer_id} take {found.down} nodes at "
                         f"{_moment(portfolio, found.hour)}, but it has {nodes}"
                         + (" (counted in whole hours, as the planner rounds outages "
                            "outwards)" if found.whole_hours else ""), path=path,
                         hint="take fewer nodes down, or move the outage")
