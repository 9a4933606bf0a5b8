"""Safe save / load of models and of the online-EM state."""

import json
import os
import zipfile

from functools import partial

import numpy as np
import pytest

import gmmx
from conftest import GaussianMixture, two_clusters

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")

_data = partial(two_clusters, n=2000, d=2, locs=(-1.0, 2.0))


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_round_trip(tmp_path, cov):
    X = _data()
    m = GaussianMixture(3, covariance_type=cov, random_state=7, reg_covar=1e-5, tol=1e-4,
                        n_threads=1, chunk_size=1000).fit(X)
    path = tmp_path / "m.npz"
    m.save(path)
    m2 = gmmx.load(path)
    assert m2.get_params() == m.get_params()
    for name in FITTED:
        np.testing.assert_array_equal(getattr(m2, name), getattr(m, name))
    for name in ("converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_"):
        assert getattr(m2, name) == getattr(m, name)
    np.testing.assert_array_equal(m2.predict_proba(X), m.predict_proba(X))
    np.testing.assert_array_equal(m2.score_samples(X), m.score_samples(X))


def test_init_arrays_and_skipped_params(tmp_path):
    X = _data()
    init = GaussianMixture(2, random_state=0).fit(X)
    m = GaussianMixture(2, means_init=init.means_, weights_init=init.weights_,
                        random_state=np.random.RandomState(0), callback=print).fit(X)
    m.save(tmp_path / "m.npz")
    m2 = gmmx.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(m2.means_init, init.means_)
    np.testing.assert_array_equal(m2.weights_init, init.weights_)
    assert m2.precisions_init is None and m2.callback is None and m2.random_state is None
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["__gmmx_metadata__"]))
    assert sorted(meta["skipped_params"]) == ["callback", "random_state"]
    assert meta["format_version"] == 1 and meta["gmmx_version"] == gmmx.__version__


def test_unfitted_round_trip(tmp_path):
    GaussianMixture(4, covariance_type="diag").save(tmp_path / "u.npz")
    m = gmmx.load(tmp_path / "u.npz")
    assert m.n_components == 4 and not hasattr(m, "means_")


def test_checkpoint_and_resume_online(tmp_path):
    X = _data(n=6000, seed=1)
    batches = np.array_split(X, 12)
    a = GaussianMixture(2, random_state=0)
    for b in batches:
        a.partial_fit(b)
    b_model = GaussianMixture(2, random_state=0)
    for b in batches[:5]:
        b_model.partial_fit(b)
    b_model.save(tmp_path / "ckpt.npz")
    del b_model
    resumed = gmmx.load(tmp_path / "ckpt.npz")
    assert resumed._online_state.n_updates == 5
    for b in batches[5:]:
        resumed.partial_fit(b)
    for name in FITTED:
        np.testing.assert_array_equal(getattr(resumed, name), getattr(a, name))
    assert resumed.n_iter_ == a.n_iter_ == 12


def test_truncated_file_raises_value_error(tmp_path):
    m = GaussianMixture(2, random_state=0).fit(_data())
    path = tmp_path / "m.npz"
    m.save(path)
    data = path.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a valid gmmx model file"):
            gmmx.load(bad)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="not a valid gmmx model file"):
        gmmx.load(tmp_path / "empty.npz")
    with pytest.raises(FileNotFoundError):
        gmmx.load(tmp_path / "missing.npz")


class _Evil:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(path, out, **replace):
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.namelist():
            if item in replace:
                continue
            zout.writestr(item, zin.read(item))
        for name, arr in replace.items():
            with zout.open(name, "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=True)


def test_pickled_object_array_is_refused_and_not_executed(tmp_path):
    m = GaussianMixture(2, random_state=0).fit(_data())
    path = tmp_path / "m.npz"
    m.save(path)
    marker = tmp_path / "PWNED"
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(str(marker))
    tampered = tmp_path / "tampered.npz"
    _rewrite(path, tampered, **{"fit_means_.npy": evil})
    with pytest.raises(ValueError, match="cannot be loaded safely"):
        gmmx.load(tampered)
    assert not marker.exists()
    # the same object as the metadata entry
    tampered2 = tmp_path / "tampered2.npz"
    _rewrite(path, tampered2, **{"__gmmx_metadata__.npy": evil})
    with pytest.raises(ValueError, match="not a valid gmmx model file"):
        gmmx.load(tampered2)
    assert not marker.exists()
    # sanity: numpy would indeed run it with allow_pickle=True
    with np.load(tampered, allow_pickle=True) as f:
        f["fit_means_"]
    assert marker.exists()


def _with_meta(path, out, **changes):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__gmmx_metadata__"]))
    meta.update(changes)
    arrays["__gmmx_metadata__"] = np.array(json.dumps(meta))
    np.savez(out, **arrays)


def test_tampered_metadata_and_shapes(tmp_path):
    m = GaussianMixture(2, random_state=0).fit(_data())
    path = tmp_path / "m.npz"
    m.save(path)
    _with_meta(path, tmp_path / "v.npz", format_version=99)
    with pytest.raises(ValueError, match="newer than this gmmx reads"):
        gmmx.load(tmp_path / "v.npz")
    _with_meta(path, tmp_path / "p.npz", params={"n_components": 2, "evil": 1})
    with pytest.raises(ValueError, match=r"unknown parameters \['evil'\]"):
        gmmx.load(tmp_path / "p.npz")
    _with_meta(path, tmp_path / "f.npz", format="something-else")
    with pytest.raises(ValueError, match="does not describe a gmmx model"):
        gmmx.load(tmp_path / "f.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["fit_covariances_"] = arrays["fit_covariances_"][:1]
    np.savez(tmp_path / "s.npz", **arrays)
    with pytest.raises(ValueError, match=r"fit_covariances_.*has shape \(1, 2, 2\)"):
        gmmx.load(tmp_path / "s.npz")
    arrays = {k: v for k, v in arrays.items() if k != "__gmmx_metadata__"}
    np.savez(tmp_path / "n.npz", **arrays)
    with pytest.raises(ValueError, match="metadata entry is missing"):
        gmmx.load(tmp_path / "n.npz")


def test_save_is_atomic_and_keeps_path(tmp_path):
    m = GaussianMixture(2, random_state=0).fit(_data())
    path = tmp_path / "model.gmmx"  # no .npz suffix added
    m.save(path)
    assert os.path.exists(path) and os.listdir(tmp_path) == ["model.gmmx"]
    np.testing.assert_array_equal(gmmx.load(str(path)).means_, m.means_)


def test_a_plain_npy_array_is_not_a_model(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.arange(10.0))
    with pytest.raises(ValueError, match="single .npy array, not a model archive"):
        gmmx.load(path)


def test_load_with_the_expected_class_checks_it(tmp_path):
    """``gmmx.load(path, GaussianMixture)`` (typed for mypy) refuses a file of another class."""
    from gmmx import GaussianHMM, GaussianMixture, load

    X = np.random.default_rng(0).normal(size=(200, 2))
    path = tmp_path / "gm.npz"
    GaussianMixture(2, random_state=0).fit(X).save(path)
    gm = load(path, GaussianMixture)
    assert type(gm) is GaussianMixture and gm.n_features_in_ == 2
    with pytest.raises(TypeError, match="holds a GaussianMixture, not a 'GaussianHMM'"):
        load(path, GaussianHMM)
    assert type(load(path)) is GaussianMixture


def test_io_save_is_model_save(tmp_path):
    """gmmx.io.save(model, path) writes what model.save(path) writes; load restores it."""
    X = two_clusters(600, d=2, seed=4)[0]
    gm = GaussianMixture(2, random_state=0).fit(X)
    gmmx.io.save(gm, tmp_path / "a.npz")
    gm.save(tmp_path / "b.npz")
    a, b = gmmx.load(tmp_path / "a.npz"), gmmx.load(tmp_path / "b.npz")
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(gm, name))
        np.testing.assert_array_equal(getattr(b, name), getattr(gm, name))
    np.testing.assert_array_equal(a.score_samples(X), gm.score_samples(X))
    with pytest.raises(TypeError):
        gmmx.io.save(object(), tmp_path / "c.npz")
