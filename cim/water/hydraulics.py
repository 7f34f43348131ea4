"""WNTR models of the stored water network, and their simulation.

* **EPANET networks** (imported ``.inp`` files): the file's text, stored as the blob ``epanet/<network>`` in
  the import's transaction, gives every simulation section (demands, patterns, curves, controls, rules,
  pumps, valves, tanks, reservoirs, options); the stored features then override what a city model edits:
  each pipe's diameter, length and (Hazen-Williams) roughness, each junction's elevation.  Unedited, the
  model simulates exactly like the file.
* **Other networks** (GeoJSON, the sample city): stated defaults (M): nodes are junctions at their ground
  elevation (``position`` z) with the network's base demand (:mod:`cim.water.network`) and no pattern;
  sources (reservoirs, tanks, nodes marked ``source``) are fixed-head reservoirs at ``attributes["head_m"]``,
  else ground + :data:`DEFAULT_SOURCE_HEAD_M`; pipes carry their length, their diameter as the inner
  diameter, Hazen-Williams C = ``attributes["roughness"]`` else :data:`DEFAULT_HW_C`; EPANET-style pump or
  valve links become short open pipes.  Isolation valves are open.  Parts of the network with no source
  are left out (EPANET cannot solve them; they have no water anyway).

Units: WNTR's SI (m, m³/s); results are converted to m³/h where the field says so.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameter
from .network import Prepared, networks

if TYPE_CHECKING:
    from ..store import Store

DEFAULT_SOURCE_HEAD_M = 30.0  # head of a source above its ground when none is given (M)
DEFAULT_HW_C = 110.0  # Hazen-Williams C of a pipe that states no roughness (M: lined ductile iron, PE ~ 110-150)


def pick_network(store: Store, network: str | None) -> str | None:
    """The EPANET network to simulate: ``network``, the only stored one, or None (build from features)."""
    names = networks(store)
    if network is not None:
        if network not in names:
            raise InvalidParameter(
                "network",
                f"No EPANET network {network!r} in the store"
                + (f"; it holds {', '.join(names)}." if names else "; it holds none (leave network out)."),
            )
        return network
    if len(names) > 1:
        raise InvalidParameter("network", f"The store holds several EPANET networks; name one of {', '.join(names)}.")
    return names[0] if names else None


def model_from_text(text: bytes) -> Any:
    """A WNTR model of an EPANET file's text."""
    import wntr

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.inp")
        with open(path, "wb") as fh:
            fh.write(text)
        return wntr.network.WaterNetworkModel(path)


def epanet_model(store: Store, network: str) -> Any:
    """The stored EPANET network as a WNTR model: the file's sections, then the stored features' values."""
    from ..model import PipeNode, PipeSegment, Utility
    from ..store.typed import iter_typed

    text = store.get_blob(f"epanet/{network}")
    if text is None:
        raise InvalidParameter("network", f"No EPANET network {network!r} in the store.")
    wn = model_from_text(text)
    hw = wn.options.hydraulic.headloss == "H-W"
    for p in iter_typed(store, "pipes", PipeSegment, batch=5000):
        if p.utility != Utility.water or p.attributes.get("network") != network or p.id not in wn.pipe_name_list:
            continue
        link = wn.get_link(p.id)
        if p.diameter is not None:
            link.diameter = float(p.diameter)
        if p.attributes.get("length_m") is not None:
            link.length = float(p.attributes["length_m"])
        if hw and p.attributes.get("roughness") is not None:
            link.roughness = float(p.attributes["roughness"])
    for nd in iter_typed(store, "pipe-nodes", PipeNode, batch=5000):
        if nd.attributes.get("network") != network or nd.kind.value != "junction":
            continue
        if nd.id in wn.junction_name_list and nd.attributes.get("elevation_m") is not None:
            wn.get_node(nd.id).elevation = float(nd.attributes["elevation_m"])
    return wn


def feature_model(store: Store, prepared: Prepared) -> Any:
    """A WNTR model of a network built from features, with the stated defaults (module docstring)."""
    import wntr

    net = prepared.net
    wn = wntr.network.WaterNetworkModel()
    wn.options.hydraulic.headloss = "H-W"
    heads = _source_heads(store, prepared)
    z = net.node_z
    fed = _fed(net)
    for i, nid in enumerate(net.node_ids):
        if not fed[i]:
            continue
        x, y = (float(v) for v in net.node_xy[i])
        if net.source[i]:
            wn.add_reservoir(nid, base_head=float(heads[i]), coordinates=(x, y))
        else:
            wn.add_junction(
                nid, base_demand=float(prepared.demand[i]) / 3600.0, elevation=float(z[i]), coordinates=(x, y)
            )
    for j, lid in enumerate(net.link_ids):
        if not fed[net.a[j]]:
            continue
        a, b = net.node_ids[net.a[j]], net.node_ids[net.b[j]]
        d = float(net.diameter[j]) if np.isfinite(net.diameter[j]) else 0.1
        c = float(net.roughness[j]) if np.isfinite(net.roughness[j]) else DEFAULT_HW_C
        wn.add_pipe(lid, a, b, length=max(float(net.length[j]), 1.0), diameter=d, roughness=c)
    return wn


def _fed(net: Any) -> np.ndarray:
    """(n,) bool: nodes connected to a source (parts without one are left out: EPANET cannot solve them)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(net.m, dtype=np.int8), (net.a, net.b)), shape=(net.n, net.n)).tocsr()
    _, lab = connected_components(g, directed=False)
    return np.isin(lab, lab[net.source])


def _source_heads(store: Store, prepared: Prepared) -> np.ndarray:
    """(n,) fixed head of each source node, m: its ``head_m``, else its ground + :data:`DEFAULT_SOURCE_HEAD_M`."""
    net = prepared.net
    heads = net.node_z + DEFAULT_SOURCE_HEAD_M
    for i in np.flatnonzero(net.source):
        h = net.node_head[i]
        if np.isfinite(h):
            heads[i] = h
    return heads


def model(store: Store, network: str | None, prepared: Prepared | None = None, persons_per_m2: float = 0.025) -> Any:
    """The WNTR model of the network to simulate (see :func:`pick_network`)."""
    from .network import prepare

    name = pick_network(store, network)
    if name is not None:
        return epanet_model(store, name)
    return feature_model(store, prepared or prepare(store, None, persons_per_m2))


def configure(
    wn: Any,
    *,
    duration_h: float | None,
    step_min: float | None,
    demand_model: str | None,
    required_pressure_m: float | None,
    minimum_pressure_m: float | None,
) -> None:
    """Set the simulation options that a request gives (None: keep the model's own)."""
    t = wn.options.time
    if duration_h is not None:
        t.duration = int(round(duration_h * 3600))
    if step_min is not None:
        step = int(round(step_min * 60))
        t.hydraulic_timestep = step
        t.report_timestep = step
    h = wn.options.hydraulic
    if demand_model is not None:
        h.demand_model = demand_model
    if required_pressure_m is not None:
        h.required_pressure = max(float(required_pressure_m), 0.07)  # WNTR's lowest required pressure
    if minimum_pressure_m is not None:
        h.minimum_pressure = float(minimum_pressure_m)
    if h.demand_model in ("PDD", "PDA") and h.required_pressure <= h.minimum_pressure:
        raise InvalidParameter("required_pressure_m", "The required pressure must exceed the minimum pressure.")


def run_epanet(wn: Any) -> Any:
    """Run WNTR's EPANET simulator in a temporary folder; returns WNTR's results."""
    import wntr

    with tempfile.TemporaryDirectory() as tmp:
        try:
            return wntr.sim.EpanetSimulator(wn).run_sim(file_prefix=os.path.join(tmp, "run"))
        except Exception as exc:  # EPANET errors (e.g. 110: cannot solve) are the request's problem
            raise InvalidParameter("network", f"The hydraulic simulation failed: {exc}") from None
