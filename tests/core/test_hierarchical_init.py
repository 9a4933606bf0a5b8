"""mclust's model-based hierarchical start (gmmx.core.hierarchical)."""

import numpy as np
import pytest

from conftest import mclust_reference, reference_data
from gmmx.core import hierarchical
from gmmx.core.hierarchical import (hc_vvv, hierarchical_labels, partition, quantile_classes,
                                    svd_transform)


def _relabel(labels):
    """0..K-1 in order of first appearance (mclust's partconv)."""
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inv]


@pytest.mark.parametrize("data", ["faithful", "iris"])
def test_tree_cuts_equal_mclust_hc(data):
    # mclust: hclass(hc(X, modelName = "VVV", use = "SVD"), 1:9)
    X = reference_data(data)
    merges = hc_vvv(svd_transform(X))
    assert merges.shape == (X.shape[0] - 1, 2)
    for k, ref in mclust_reference()[data]["hc_partitions"].items():
        want = np.array([int(c) for c in ref]) - 1
        np.testing.assert_array_equal(partition(merges, X.shape[0], int(k)), want,
                                      err_msg=f"K={k}")


def test_svd_transform_is_whitened_and_drops_constant_columns(rng):
    X = rng.normal(size=(200, 3)) @ np.array([[2.0, 0.5, 0], [0, 1.0, 0.3], [0, 0, 0.2]])
    X = np.c_[X, np.full(200, 7.0)]
    Z = svd_transform(X)
    assert Z.shape == (200, 3)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    C = Z.T @ Z
    np.testing.assert_allclose(C - np.diag(np.diag(C)), 0, atol=1e-10)  # uncorrelated


def test_a_weighted_row_is_a_group_of_repeated_rows(rng):
    # A row of weight w enters as w coincident rows already merged (mclust's
    # dupPartition); the tree can differ from singletons' only in merge order.
    X = rng.normal(size=(60, 2)) + np.repeat([[0, 0], [5, 5], [0, 6]], 20, axis=0)
    w = rng.integers(1, 4, 60)
    Xr = np.repeat(X, w, axis=0)
    z_w = svd_transform(X, w.astype(float))
    z_r = svd_transform(Xr)
    np.testing.assert_allclose(np.abs(np.repeat(z_w, w, axis=0)), np.abs(z_r), atol=1e-12)
    lw = _relabel(np.repeat(partition(hc_vvv(z_w, w.astype(float)), 60, 3), w))
    lr = _relabel(partition(hc_vvv(z_r), Xr.shape[0], 3))
    assert np.mean(lw == lr) > 0.9


def test_quantile_classes_are_mclust_qclass():
    # R: mclust:::qclass(x, k) for these vectors (mclust 6.0.0)
    x = np.array([5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 8.0, 7.0])
    np.testing.assert_array_equal(quantile_classes(x, 3) + 1, [2, 1, 1, 1, 2, 3, 3, 3])
    x = np.r_[np.zeros(50), np.ones(10), np.arange(2, 12)]  # ties: fewer distinct quantiles
    np.testing.assert_array_equal(quantile_classes(x, 3) + 1, [1] * 50 + [2] * 10 + [3] * 10)
    y = np.array([-0.6, 0.2, -0.8, 1.6, 0.3, -0.8, 0.5, 0.7, 0.6, -0.3, 1.5, 0.4, -0.6, -2.2,
                  1.1, 0, 0, 0.9, 0.8, 0.6, 0.9, 0.8, 0.1, -2, 0.6, -0.1, -0.2, -1.5, -0.5, 0.4,
                  1.4, -0.1, 0.4, -0.1, -1.4, -0.4, -0.4, -0.1, 1.1, 0.8])
    want = [1, 3, 1, 4, 3, 1, 3, 3, 3, 2, 4, 3, 1, 1, 4, 2, 2, 4, 4, 3, 4, 4, 2, 1, 3, 2, 2, 1,
            1, 3, 4, 2, 3, 2, 1, 2, 2, 2, 4, 4]
    np.testing.assert_array_equal(quantile_classes(y, 4) + 1, want)


def test_big_data_run_on_a_bounded_subset_and_share_the_tree(rng, monkeypatch):
    # Was a time bound (< 5 s); what it guarded, counted: the 5,000 rows are
    # never agglomerated, only the 300-row subset, once for every K (the
    # native tree is the only O(m^2) step).
    X = rng.normal(size=(5000, 2))
    calls, native = [], []
    real = hierarchical.hc_vvv
    monkeypatch.setattr(hierarchical, "hc_vvv",
                        lambda Z, w=None: calls.append(Z.shape[0]) or real(Z, w))
    real_native = hierarchical._hier.hc_vvv_merges
    monkeypatch.setattr(hierarchical._hier, "hc_vvv_merges",
                        lambda Z, *a: native.append(Z.shape) or real_native(Z, *a))
    cache = {}
    for k in (2, 3, 4):
        rows, labels = hierarchical_labels(X, None, k, np.random.RandomState(0), max_rows=300,
                                           cache=cache)
        assert rows.shape == (300,) and np.all(np.diff(rows) > 0) and labels.max() == k - 1
    assert calls == [300]  # one tree for every K
    assert native == [(300, 2)]


@pytest.mark.parametrize("d", [2, 3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_native_tree_equals_the_numpy_implementation(rng, d, weighted):
    from hc_python import hc_vvv_python

    X = np.concatenate([rng.normal(size=(100, d)) + 4 * j for j in range(3)])
    w = rng.integers(1, 4, X.shape[0]).astype(float) if weighted else np.ones(X.shape[0])
    Z = svd_transform(X, w)
    centred = Z - (w @ Z) / w.sum()
    alpha = float(w @ np.einsum("ij,ij->i", centred, centred)) / (w.sum() * Z.shape[1])
    np.testing.assert_array_equal(hc_vvv(Z, w), hc_vvv_python(Z, w, alpha))


def test_native_tree_breaks_exact_ties_as_mclust(rng):
    # duplicated rows: many merges of exactly equal cost
    from hc_python import hc_vvv_python

    X = np.repeat(np.round(rng.normal(size=(40, 2)), 1), 3, axis=0)
    Z = svd_transform(X)
    centred = Z - Z.mean(axis=0)
    alpha = float(np.einsum("ij,ij->", centred, centred)) / (Z.shape[0] * Z.shape[1])
    np.testing.assert_array_equal(hc_vvv(Z), hc_vvv_python(Z, np.ones(Z.shape[0]), alpha))


@pytest.mark.parametrize("d", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("m", [2, 3, 9, 150])
def test_native_tree_equals_the_numpy_implementation_at_every_width(rng, d, m):
    # d = 2 runs the vectorised closed-form path, the other widths the
    # Cholesky one; m = 2, 3 the smallest trees
    from hc_python import hc_vvv_python

    X = rng.normal(size=(m, d)) + 3 * (np.arange(m) % 2)[:, None]
    Z = svd_transform(X) if m > d else X
    centred = Z - Z.mean(axis=0)
    alpha = max(float(np.einsum("ij,ij->", centred, centred)) / (m * Z.shape[1]),
                np.finfo(float).eps)
    np.testing.assert_array_equal(hc_vvv(Z), hc_vvv_python(Z, np.ones(m), alpha))


@pytest.mark.parametrize("d", [2, 3])
def test_native_tree_breaks_ties_of_coincident_groups_as_mclust(rng, d):
    # groups of coincident rows: merges within a group all cost the same
    from hc_python import hc_vvv_python

    X = np.repeat(np.round(rng.normal(size=(30, d)), 1), 4, axis=0)
    Z = svd_transform(X)
    centred = Z - Z.mean(axis=0)
    alpha = float(np.einsum("ij,ij->", centred, centred)) / (Z.shape[0] * d)
    np.testing.assert_array_equal(hc_vvv(Z), hc_vvv_python(Z, np.ones(Z.shape[0]), alpha))


def test_partition_equals_relabelling_merge_by_merge(rng):
    Z = rng.normal(size=(80, 2))
    merges = hc_vvv(Z)
    for k in (1, 2, 5, 80):
        labels = np.arange(80)
        for a, b in merges[: 80 - k]:
            labels[labels == b] = a
        np.testing.assert_array_equal(partition(merges, 80, k), _relabel(labels))


def test_one_feature_uses_quantile_classes(rng):
    x = rng.normal(size=(500, 1))
    rows, labels = hierarchical_labels(x, None, 4, np.random.RandomState(0))
    assert rows is None
    order = np.argsort(x[:, 0])
    assert np.all(np.diff(labels[order]) >= 0)  # classes are intervals


def test_wide_data_use_fewer_rows():
    from gmmx.core.hierarchical import HC_MAX_ROWS, max_rows_for

    assert max_rows_for(2) == max_rows_for(16) == HC_MAX_ROWS
    assert max_rows_for(32) == 707 and max_rows_for(64) == 250
    assert max_rows_for(500) == 200 and max_rows_for(500, n_clusters=150) == 300


@pytest.mark.parametrize("d", [2, 3])
def test_native_shortcuts_give_the_same_merges(rng, d):
    # The AVX2 loops (without FMA) and the unit-weight route for the initial
    # costs do the baseline's IEEE operations, so the merges, ties included,
    # are the same; ties from coincident rows, near-ties from a fine grid.
    from gmmx._kernels import _hier

    X = np.r_[np.repeat(np.round(rng.normal(size=(60, d)), 1), 3, axis=0),
              np.round(rng.normal(size=(300, d)) + 4, 2)]
    Z = np.ascontiguousarray(svd_transform(X))
    w = np.ones(Z.shape[0])
    centred = Z - Z.mean(axis=0)
    alpha = float(np.einsum("ij,ij->", centred, centred)) / (Z.shape[0] * d)
    try:
        _hier._set_simd(False)
        want = _hier.hc_vvv_merges(Z, w, alpha, 1.0, unit_costs=False)
        assert want.shape == (Z.shape[0] - 1, 2)
        np.testing.assert_array_equal(_hier.hc_vvv_merges(Z, w, alpha, 1.0), want)
        _hier._set_simd(True)
        np.testing.assert_array_equal(_hier.hc_vvv_merges(Z, w, alpha, 1.0), want)
        np.testing.assert_array_equal(_hier.hc_vvv_merges(Z, w, alpha, 1.0, unit_costs=False),
                                      want)
    finally:
        _hier._set_simd(True)


@pytest.mark.parametrize("kind", ["blobs", "uniform", "grid", "coincident", "ties", "ring",
                                  "outliers", "clusters"])
def test_spatial_blocks_give_the_merges_of_the_full_scan(rng, kind):
    # at d = 2 with unit weights the kernel costs only the spatial blocks
    # its bounds leave in (and, at a tie, the blocks that can hold the least
    # cost), and after a merge scans only the merged row (it covers its
    # pairs; the full scan also updates the other rows' minima): the same
    # merges as the compacted full scan, on clustered data (a few clusters
    # grow a row at a time), uniform data (many pairs), a coarse grid (exact
    # ties everywhere), coincident rows, repeated integer rows (many pairs
    # at the cheapest merge), a ring, far outliers and elongated clusters
    from gmmx._kernels import _hier

    if kind == "ties":
        X = np.repeat(rng.integers(0, 8, size=(150, 2)).astype(float), 3, axis=0)
    elif kind == "ring":
        t = rng.uniform(0, 2 * np.pi, 800)
        X = np.c_[np.cos(t), np.sin(t)] * (1 + 0.02 * rng.normal(size=(800, 1)))
    elif kind == "outliers":
        X = np.r_[rng.normal(size=(600, 2)), 50 * rng.standard_cauchy(size=(20, 2))]
    elif kind == "clusters":
        X = np.concatenate([rng.normal(size=(700, 2)) * [1.0, 0.2] + 5 * j for j in range(3)])
    elif kind == "blobs":
        X = np.concatenate([rng.normal(size=(300, 2)) + 5 * j for j in range(3)])
    elif kind == "uniform":
        X = rng.uniform(size=(700, 2))
    elif kind == "grid":
        X = rng.integers(0, 15, size=(600, 2)).astype(float)
    else:
        X = np.r_[np.repeat(rng.normal(size=(100, 2)), 4, axis=0), rng.normal(size=(200, 2))]
    Z = np.ascontiguousarray(svd_transform(X))
    w = np.ones(Z.shape[0])
    centred = Z - Z.mean(axis=0)
    alpha = float(np.einsum("ij,ij->", centred, centred)) / (Z.shape[0] * 2)
    want = _hier.hc_vvv_merges(Z, w, alpha, 1.0, spatial=False)
    assert want.shape == (Z.shape[0] - 1, 2)
    np.testing.assert_array_equal(_hier.hc_vvv_merges(Z, w, alpha, 1.0), want)
    np.testing.assert_array_equal(_hier.hc_vvv_merges(Z, w, alpha, 1.0, unit_costs=False), want)
    try:
        _hier._set_simd(False)
        np.testing.assert_array_equal(_hier.hc_vvv_merges(Z, w, alpha, 1.0), want)
    finally:
        _hier._set_simd(True)


def _unit_tree_args(X):
    """hc_vvv_merges's arguments for the rows of X, unit weights: (Z, w, alpha)."""
    Z = np.ascontiguousarray(svd_transform(X))
    centred = Z - Z.mean(axis=0)
    alpha = float(np.einsum("ij,ij->", centred, centred)) / Z.size
    return Z, np.ones(Z.shape[0]), alpha


def test_spatial_blocks_cost_few_blocks_per_merge(rng):
    # mclust's 2,000-row subset of three blobs: after a merge only the merged
    # row is scanned, over the blocks its bounds leave in (63 blocks of 32
    # columns; 8.6 a merge when every row the merge could lower was sought)
    from gmmx._kernels import _hier

    X = np.concatenate([rng.normal(size=(667, 2)) + 5 * j for j in range(3)])[:2000]
    Z, w, alpha = _unit_tree_args(X)
    work = np.zeros(2, dtype=np.int64)
    merges = _hier.hc_vvv_merges(Z, w, alpha, 1.0, work=work)
    np.testing.assert_array_equal(merges, _hier.hc_vvv_merges(Z, w, alpha, 1.0, spatial=False))
    blocks, scans = work
    assert scans >= Z.shape[0] - 2  # one scan per merged row at least
    assert blocks / (Z.shape[0] - 1) < 6.0


def test_wider_trees_rescan_few_rows(rng):
    # d >= 3: a merge scans the merged row; the other rows keep their minima
    # as lower bounds and are scanned again only when one is the cheapest
    # (1.89 scans a merge on this tree when every row the merge could lower
    # was updated and then rescanned)
    from gmmx._kernels import _hier

    X = np.concatenate([rng.normal(size=(667, 3)) + 5 * j for j in range(3)])[:2000]
    Z, w, alpha = _unit_tree_args(X)
    work = np.zeros(2, dtype=np.int64)
    merges = _hier.hc_vvv_merges(Z, w, alpha, 1.0, work=work)
    assert merges.shape == (Z.shape[0] - 1, 2)
    assert sorted(np.unique(merges[:, 1])) == sorted(set(range(1, Z.shape[0])))
    assert work[0] == 0  # no spatial blocks above d = 2
    assert Z.shape[0] - 2 <= work[1] < 1.4 * (Z.shape[0] - 1)


@pytest.mark.parametrize("n, m", [(5000, 2000), (2001, 2000), (10**6, 300)])
def test_subset_rows_are_the_distinct_draws_of_the_random_state(n, m):
    # the subset mclust's start runs on: the sorted distinct values of
    # successive randint draws, topped up to m (as np.unique of the draws)
    rs = np.random.RandomState(3)
    idx = np.unique(rs.randint(0, n, m))
    while idx.size < m:
        idx = np.unique(np.concatenate([idx, rs.randint(0, n, m - idx.size)]))
    got = hierarchical._subsample(n, m, np.random.RandomState(3))
    np.testing.assert_array_equal(got, idx)
    assert got.dtype == idx.dtype


def test_partition_of_any_merge_list_follows_each_row_to_its_last_merge(rng):
    # merges not in hc_vvv's form (the higher row joining the lower, once)
    # take partition's general path; both paths give each row the label of
    # the row it merged into, in reverse order, numbered by first appearance
    merges = hc_vvv(rng.normal(size=(60, 2)))
    for m in (merges, merges[:, ::-1], np.r_[merges[:30], merges[:30]]):
        for k in (1, 3, 10, 60):
            labels = list(range(60))
            for a, b in reversed(m[: 60 - k].tolist()):
                labels[b] = labels[a]
            np.testing.assert_array_equal(partition(m, 60, k), _relabel(np.array(labels)))


def test_the_logarithm_bound_of_the_merge_costs_is_strictly_below_by_a_margin(rng):
    # the kernel takes a cost's logarithm only where a bound from this one
    # reaches the row's least cost: it must stay below log by more than the
    # rounding of n log(x) - T (under n 1e-12), and close enough to prune
    from gmmx._kernels import _hier

    x = np.r_[np.exp(rng.uniform(-700, 700, 200_000)), 2.0 ** np.arange(-1000, 1000),
              np.nextafter(2.0 ** np.arange(-1000, 1000), 0), 1.0, np.sqrt(2.0), np.sqrt(0.5),
              np.finfo(float).tiny, np.finfo(float).max]
    lo, ref = _hier._log_lower_bound(np.ascontiguousarray(x))
    np.testing.assert_allclose(ref, np.log(x), rtol=1e-15, atol=1e-15)
    gap = np.log(x) - lo
    assert gap.min() > 9e-7 and gap.max() < 1.1e-6


def test_disabling_avx2_in_the_environment_turns_the_merge_loops_to_baseline():
    import os
    import subprocess
    import sys

    from gmmx._kernels import _simd

    code = "import gmmx.core.hierarchical as h; print(h._HC_AVX2)"
    runs = {}
    for disabled in ("", "AVX2 AVX512F"):
        env = dict(os.environ, GMMX_DISABLE_CPU_FEATURES=disabled)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=env)
        runs[disabled] = out.stdout.strip()
    assert runs["AVX2 AVX512F"] == "False"
    if "AVX2" in _simd.runnable_targets():
        assert runs[""] == "True"
