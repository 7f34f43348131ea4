"""``GET /grids/{key}.tif``: depth grids written by analyses (Cloud-Optimized GeoTIFFs, see
:mod:`cim.hydro.grids`); range requests are honoured, so QGIS and GDAL (``/vsicurl/``) read them in place."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from cim.hydro.grids import grid_path

router = APIRouter(tags=["Analysis"])


@router.get("/grids/{key}.tif", summary="A grid written by an analysis (Cloud-Optimized GeoTIFF)")
def grid(key: str) -> FileResponse:
    path = grid_path(key)
    if path is None:
        raise HTTPException(404, f"No grid {key!r}: run the analysis again (grids are cached files).")
    return FileResponse(path, media_type="image/tiff; application=geotiff; profile=cloud-optimized")
