"""Hydrology kernels: design storms (:mod:`.storm`), depression filling (:mod:`.fill`), the depression
hierarchy and Fill-Spill-Merge (:mod:`.fsm`), rasters out (:mod:`.grids`)."""
