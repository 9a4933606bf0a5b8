"""Market regimes and asset clusters; the code lives in :mod:`gmmx.finance.regimes`.

This module re-exports its public names so that ``import gmmx.regimes`` and
``from gmmx.regimes import detect_regimes`` keep working.
"""

from .finance.regimes import (
    AssetClusters,
    RegimeResult,
    asset_features,
    cluster_assets,
    detect_regimes,
    regime_durations,
)

__all__ = ["RegimeResult", "detect_regimes", "regime_durations", "AssetClusters",
           "asset_features", "cluster_assets"]
