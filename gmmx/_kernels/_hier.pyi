"""Type stub of the compiled kernel module (Cython); see the .pyx source."""

import numpy as np
from numpy.typing import NDArray

def hc_vvv_merges(Z: NDArray[np.float64], w: NDArray[np.float64], alpha: float,
                  beta: float, *, unit_costs: bool = ...,
                  spatial: bool = ...,
                  work: NDArray[np.int64] | None = ...) -> NDArray[np.int64]: ...
def _set_simd(on: bool) -> bool: ...
