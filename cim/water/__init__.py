"""Water supply networks: the graph of the stored pipes, isolation segments, WNTR models and the water balance.

* :mod:`cim.water.network` -- the network as arrays (nodes, links, isolation valves, sources) from a store;
* :mod:`cim.water.segments` -- isolation segments, one burst's isolation and every segment's criticality
  (graph passes with ``scipy.sparse.csgraph``, no search per pipe);
* :mod:`cim.water.service` -- buildings to the junctions that serve them, population;
* :mod:`cim.water.hydraulics` -- WNTR models: the stored EPANET file, or defaults for other networks;
* :mod:`cim.water.balance` -- district water balance (CJJ 92-2016 §5.2) and minimum night flow.
"""
