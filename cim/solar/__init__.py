"""Sunlight (日照) kernels: the sun's track in true solar time, façade points and shadow tests.

* :mod:`cim.solar.sun` — solar terms (大寒, 冬至) and the sun's positions over a window of true solar time
  (pvlib's NREL SPA), as directions in the city CRS's grid (meridian convergence applied).
* :mod:`cim.solar.facade` — window-sill points on the walls of buildings that face the sun's range.
* :mod:`cim.solar.shadow` — which (point, minute) pairs see the sky: an exact 2-D "shadow top" test for LOD1
  prisms (vectorised, culled by the sun's sweep) and ray casting (trimesh, Embree when installed) against
  LOD2 surfaces and the terrain.
* :mod:`cim.solar.rules` — the sunlight rule set (``cim/rules/gb50180_sunlight.toml``).
"""
