"""asv benchmark suite of gmmx (run from benchmarks/: ``asv run --python=same --quick``).

Modules: ``bench_fit`` (EM fits by covariance type, K, d and dtype, plus
scikit-learn comparisons recorded as ``track_`` ratios and log-likelihood
gaps), ``bench_predict`` (scoring and prediction), ``bench_online``
(``partial_fit`` throughput) and ``bench_streaming`` (out-of-core fits and
their peak memory). Data and sizes live in ``common``.
"""
