"""Reference mixtures shared by the gmmx.finance tests (imported by name)."""

from gmmx.finance import UnivariateMixture

# A skewed, fat-tailed daily-return-like mixture and a badly separated one.
RET = UnivariateMixture([0.7, 0.25, 0.05], [0.0008, -0.001, -0.01], stds=[0.007, 0.015, 0.04])
FAR = UnivariateMixture([0.3, 0.3, 0.4], [-1e4, 0.0, 1e4], stds=[1.0, 1e-3, 5.0])
