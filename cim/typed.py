"""Array aliases used in signatures.  Shapes are given in docstrings: (n, 2), (n, 3), ..."""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
ArrayNx2: TypeAlias = FloatArray  # (n, 2) metres
ArrayNx3: TypeAlias = FloatArray  # (n, 3) metres
Bounds3: TypeAlias = tuple[float, float, float, float, float, float]  # minx, miny, minz, maxx, maxy, maxz
