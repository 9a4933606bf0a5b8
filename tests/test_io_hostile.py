"""Hostile model files: every bad archive is a ValueError naming the member,
never a RecursionError, MemoryError, AttributeError or a model that answers
NaN; saves respect the umask and leave no stale temporary files."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import gmmx
import gmmx.io as gio
from gmmx import GaussianMixture

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

META = "__gmmx_metadata__"


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-2, 1, (n // 2, 2)), rng.normal(2, 0.5, (n - n // 2, 2))])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A fitted model file and one with online-EM state."""
    d = tmp_path_factory.mktemp("models")
    X = _data()
    m = GaussianMixture(2, random_state=0, n_threads=1, max_iter=20).fit(X)
    m.save(d / "fit.npz")
    o = GaussianMixture(2, random_state=0, n_threads=1)
    for b in np.array_split(X, 3):
        o.partial_fit(b)
    o.save(d / "online.npz")
    return {"fit": d / "fit.npz", "online": d / "online.npz"}


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _zip(out, members):
    with zipfile.ZipFile(out, "w") as z:  # stored, as np.savez writes
        for name, data in members.items():
            z.writestr(name, data)
    return out


def _meta(path):
    return json.loads(str(np.lib.format.read_array(io.BytesIO(_members(path)[META + ".npy"]))))


def _tampered(src, out, meta=None, **arrays):
    """``src`` with the metadata and arrays replaced (by name, without .npy)."""
    members = _members(src)
    if meta is not None:
        members[META + ".npy"] = _npy(np.array(json.dumps(meta)))
    for key, value in arrays.items():
        members[key + ".npy"] = _npy(value)
    return _zip(out, members)


def _invalid(path, *patterns):
    with pytest.raises(ValueError, match="not a valid gmmx model file") as info:
        gmmx.load(path)
    for p in patterns:
        assert p in str(info.value), str(info.value)
    return str(info.value)


# ---------------------------------------------------------------- structure


def test_deeply_nested_metadata_is_refused_before_parsing(saved, tmp_path):
    meta = _meta(saved["fit"])
    text = json.dumps(meta)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    members = _members(saved["fit"])
    members[META + ".npy"] = _npy(np.array(text))
    _invalid(_zip(tmp_path / "nested.npz", members), "nests 100001 levels deep")


def test_oversized_metadata_is_refused_from_its_header(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(gio, "MAX_METADATA_CHARS", 1000)
    meta = _meta(saved["fit"])
    meta["padding"] = "x" * 2000
    _invalid(_tampered(saved["fit"], tmp_path / "big.npz", meta=meta), "metadata entry holds")


def test_a_member_that_is_not_npy_data(saved, tmp_path):
    members = _members(saved["fit"])
    members["fit_means_.npy"] = b"hello, not an array"
    _invalid(_zip(tmp_path / "m.npz", members), "'fit_means_' is not .npy data")


def test_a_member_declaring_a_trillion_elements_is_not_allocated(saved, tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    members = _members(saved["fit"])
    members["fit_weights_.npy"] = header.getvalue() + bytes(16)
    _invalid(_zip(tmp_path / "huge.npz", members), "'fit_weights_' declares shape (1000000000000,)")


def test_shape_disagreeing_with_the_metadata_is_refused_before_reading(saved, tmp_path):
    meta = _meta(saved["fit"])
    meta["fitted"]["n_features_in_"] = 3
    _invalid(_tampered(saved["fit"], tmp_path / "d.npz", meta=meta),
             "array 'fit_means_' has shape (2, 2), expected (2, 3)")


def test_a_flipped_compression_byte(saved, tmp_path):
    raw = bytearray(saved["fit"].read_bytes())
    raw[raw.find(b"PK\x01\x02") + 10] = 99  # compression method in the central directory
    path = tmp_path / "flip.npz"
    path.write_bytes(bytes(raw))
    _invalid(path, "zip compression method 99")


def test_a_bit_flip_in_array_data_fails_the_crc(saved, tmp_path):
    members = _members(saved["fit"])
    data = bytearray(saved["fit"].read_bytes())
    blob = members["fit_means_.npy"]
    at = data.find(blob) + len(blob) - 3
    data[at] ^= 0x10
    path = tmp_path / "crc.npz"
    path.write_bytes(bytes(data))
    _invalid(path, "'fit_means_' is corrupted")


def test_duplicate_members_are_refused(saved, tmp_path):
    members = _members(saved["fit"])
    path = tmp_path / "dup.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
            z.writestr("fit_weights_.npy", _npy(np.array([0.5, 0.5])))
    _invalid(path, "appear more than once")


def test_a_zip_directory_with_too_many_entries(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(gio, "MAX_MEMBERS", 50)
    members = _members(saved["fit"])
    members.update({f"junk{i}.npy": b"" for i in range(60)})
    _invalid(_zip(tmp_path / "many.npz", members), "zip directory declares")


def test_an_inflating_extra_member_is_never_read(saved, tmp_path):
    header = io.BytesIO()
    n = 64 << 20  # 64 MiB of zeros, ~64 KiB compressed (a faithful small 1 GiB bomb)
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (n,)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in _members(saved["fit"]).items():
            z.writestr(name, data)
        info = zipfile.ZipInfo("extra.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w") as f:
            f.write(header.getvalue())
            block = bytes(1 << 20)
            for _ in range(64):
                f.write(block)
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        m = gmmx.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak
    np.testing.assert_array_equal(m.means_, gmmx.load(saved["fit"]).means_)
    # asked for explicitly, the compressed member is refused, not inflated
    meta, arrays = gio.read_archive(path)
    with arrays, pytest.raises(ValueError, match="'extra' is stored with zip compression"):
        arrays["extra"]


def test_pickled_object_member_is_refused_from_its_header(saved, tmp_path):
    members = _members(saved["fit"])
    buf = io.BytesIO()
    evil = np.empty(2, dtype=object)
    np.lib.format.write_array(buf, evil, allow_pickle=True)
    members["fit_weights_.npy"] = buf.getvalue()
    _invalid(_zip(tmp_path / "obj.npz", members), "'fit_weights_' has dtype object")


# ---------------------------------------------------------------- metadata values


@pytest.mark.parametrize("entry, value, expected", [
    ("n_iter_", [1], "fitted entry 'n_iter_' must be an integer >= 0, got [1]"),
    ("n_iter_", -3, "fitted entry 'n_iter_' must be an integer >= 0"),
    ("n_iter_", True, "fitted entry 'n_iter_' must be an integer >= 0"),
    ("converged_", "yes", "fitted entry 'converged_' must be true or false"),
    ("lower_bound_", "x", "fitted entry 'lower_bound_' must be a finite number"),
    ("n_features_in_", 0, "fitted entry 'n_features_in_' must be an integer >= 1"),
])
def test_bad_fitted_scalars(saved, tmp_path, entry, value, expected):
    meta = _meta(saved["fit"])
    meta["fitted"][entry] = value
    _invalid(_tampered(saved["fit"], tmp_path / "f.npz", meta=meta), expected)


@pytest.mark.parametrize("changes, expected", [
    ({"params": {"n_components": 0}}, "n_components must be an integer >= 1, got 0"),
    ({"params": {"tol": -1.0}}, "tol must be"),
    ({"params": {"covariance_type": "banana"}}, "covariance_type must be one of"),
    ({"online": "yes"}, "metadata entry 'online' should be a bool"),
    ({"class": ["GaussianMixture"]}, "names no model class"),
    ({"format_version": True}, "bad format_version"),
])
def test_bad_metadata_entries(saved, tmp_path, changes, expected):
    meta = _meta(saved["fit"])
    for key, value in changes.items():
        if isinstance(value, dict):
            meta[key].update(value)
        else:
            meta[key] = value
    _invalid(_tampered(saved["fit"], tmp_path / "m.npz", meta=meta), expected)


def test_zero_components_with_matching_empty_arrays(saved, tmp_path):
    meta = _meta(saved["fit"])
    meta["params"]["n_components"] = 0
    path = _tampered(saved["fit"], tmp_path / "k0.npz", meta=meta,
                     fit_weights_=np.zeros(0), fit_means_=np.zeros((0, 2)),
                     fit_covariances_=np.zeros((0, 2, 2)), fit_precisions_=np.zeros((0, 2, 2)),
                     fit_precisions_cholesky_=np.zeros((0, 2, 2)))
    _invalid(path, "n_components must be an integer >= 1, got 0")


# ---------------------------------------------------------------- array values


def test_weights_off_the_simplex(saved, tmp_path):
    _invalid(_tampered(saved["fit"], tmp_path / "w.npz", fit_weights_=np.array([-1.0, 2.0])),
             "'fit_weights_' is not a probability vector")
    _invalid(_tampered(saved["fit"], tmp_path / "w2.npz", fit_weights_=np.array([0.5, 0.6])),
             "'fit_weights_' is not a probability vector")


def test_non_finite_arrays(saved, tmp_path):
    means = gmmx.load(saved["fit"]).means_.copy()
    means[1, 0] = np.inf
    _invalid(_tampered(saved["fit"], tmp_path / "m.npz", fit_means_=means),
             "'fit_means_' contains NaN or infinity")
    _invalid(_tampered(saved["fit"], tmp_path / "lb.npz", fit_lower_bounds_=np.array([np.nan])),
             "'fit_lower_bounds_' contains NaN or infinity")


def test_precisions_that_are_not_positive_definite(saved, tmp_path):
    m = gmmx.load(saved["fit"])
    U = m.precisions_cholesky_.copy()
    U[0, 1, 1] = -U[0, 1, 1]  # negative diagonal
    _invalid(_tampered(saved["fit"], tmp_path / "neg.npz", fit_precisions_cholesky_=U),
             "'fit_precisions_cholesky_' is not a valid Cholesky factor")
    U = m.precisions_cholesky_.copy()
    U[0, 1, 0] = 0.5  # not triangular: the kernel's log-determinant would be wrong
    _invalid(_tampered(saved["fit"], tmp_path / "tri.npz", fit_precisions_cholesky_=U),
             "'fit_precisions_cholesky_' is not a valid Cholesky factor")


def test_covariances_inconsistent_with_the_precisions(saved, tmp_path):
    m = gmmx.load(saved["fit"])
    _invalid(_tampered(saved["fit"], tmp_path / "c.npz", fit_covariances_=2 * m.covariances_),
             "'fit_covariances_' disagrees with 'fit_precisions_cholesky_'")
    _invalid(_tampered(saved["fit"], tmp_path / "p.npz", fit_precisions_=m.precisions_ * 1.001),
             "'fit_precisions_' disagrees with 'fit_precisions_cholesky_'")


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_ill_conditioned_models_still_round_trip(tmp_path, cov):
    """The consistency checks do not reject real fits of near-collinear tick returns."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(4000, 1))
    X = 1e-4 * np.hstack([z, z + 1e-5 * rng.normal(size=(4000, 1)), rng.normal(size=(4000, 1))])
    m = GaussianMixture(2, covariance_type=cov, reg_covar=1e-20, random_state=0,
                        n_threads=1, max_iter=30).fit(X)
    m.save(tmp_path / "m.npz")
    m2 = gmmx.load(tmp_path / "m.npz")
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(m2, name), getattr(m, name))


def test_online_state_counts(saved, tmp_path):
    _invalid(_tampered(saved["online"], tmp_path / "u.npz", online_n_updates=np.array([-1])),
             "'online_n_updates' must be a count >= 0, got -1")
    _invalid(_tampered(saved["online"], tmp_path / "u2.npz", online_n_updates=np.array([0.5])),
             "'online_n_updates' must be a count >= 0")
    nk = gmmx.load(saved["online"])._online_state.stats.nk.copy()
    nk[0] = -nk[0]
    _invalid(_tampered(saved["online"], tmp_path / "nk.npz", online_stats_nk=nk),
             "'online_stats_nk' has negative entries")
    _invalid(_tampered(saved["online"], tmp_path / "sc.npz",
                       online_stats_scalars=np.array([0.0, -1.0, 3.0])),
             "'online_stats_scalars'")
    members = _members(saved["online"])
    del members["online_stats_Mk.npy"]
    _invalid(_zip(tmp_path / "inc.npz", members), "the online-EM state is incomplete")


def test_every_tampered_file_is_a_value_error_naming_the_member(saved, tmp_path):
    """A sweep: each array replaced by a wrong-shaped, non-finite or string array."""
    names = [n[:-4] for n in _members(saved["online"]) if n != META + ".npy"]
    for name in names:
        for i, bad in enumerate([np.zeros((7, 7, 7)), np.array(["x"]), np.full(3, np.nan)]):
            path = _tampered(saved["online"], tmp_path / f"{name}{i}.npz", **{name: bad})
            msg = _invalid(path)
            assert repr(name) in msg, msg


# ---------------------------------------------------------------- saving


def test_saved_file_gets_the_umask_permissions(tmp_path):
    m = GaussianMixture(2, random_state=0, n_threads=1).fit(_data())
    old = os.umask(0o027)
    try:
        m.save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o640
    old = os.umask(0o002)
    try:
        m.save(tmp_path / "m.npz")  # replacing takes the umask too
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o664


_KILLED_SAVE = """
import os, signal, sys
import numpy as np
import gmmx, gmmx.io as gio
m = gmmx.GaussianMixture(1, n_threads=1).fit(np.arange(20.0).reshape(-1, 1))
def dying_savez(f, **arrays):
    f.write(b"partial archive")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
gio.np.savez = dying_savez
m.save(sys.argv[1])
"""


def _temps(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith(".gmmx-"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_temp_files_of_killed_saves_do_not_accumulate(tmp_path):
    target = tmp_path / "model.npz"
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(target)],
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert proc.returncode == -signal.SIGKILL
    # the second killed save already removed the first one's temporary file
    assert len(_temps(tmp_path)) == 1 and not target.exists()
    GaussianMixture(2, random_state=0, n_threads=1).fit(_data()).save(target)
    assert _temps(tmp_path) == [] and gmmx.load(target).n_components == 2


def test_stale_temp_rules(tmp_path):
    """Another target's temp files are left alone; an old one of any host is removed."""
    m = GaussianMixture(2, random_state=0, n_threads=1).fit(_data())
    tag = gio._target_tag("model.npz")
    live = tmp_path / f".gmmx-{tag}-{gio._host_tag()}-{os.getpid()}-0000aaaa.tmp"
    other_host_old = tmp_path / f".gmmx-{tag}-deadbeef-12345-0000bbbb.tmp"
    other_host_new = tmp_path / f".gmmx-{tag}-deadbeef-12345-0000cccc.tmp"
    other_target = tmp_path / f".gmmx-{gio._target_tag('x.npz')}-deadbeef-1-0000dddd.tmp"
    legacy_old = tmp_path / ".gmmx-ab12cd34.tmp"  # tempfile.mkstemp names of gmmx 0.1
    for p in (live, other_host_old, other_host_new, other_target, legacy_old):
        p.write_bytes(b"x")
    old = time.time() - 2 * gio.STALE_TEMP_SECONDS
    for p in (other_host_old, other_target, legacy_old):
        os.utime(p, (old, old))
    m.save(tmp_path / "model.npz")
    assert _temps(tmp_path) == sorted(p.name for p in (live, other_host_new, other_target))
