"""gmmx holds BLAS to one thread while its kernels run and gives the threads back after.

The hold is process-wide (BLAS has one thread pool) and shared by every Python
thread that runs a kernel; whatever the interleaving, the user's setting comes
back when the last kernel call or fit ends.
"""

import threading

import numpy as np
import pytest

from conftest import blobs
from gmmx import GaussianMixture
from gmmx.core import kernel

threadpoolctl = pytest.importorskip("threadpoolctl")
pytestmark = pytest.mark.filterwarnings("ignore::gmmx.exceptions.ConvergenceWarning")


def _blas_threads():
    return sorted({i["num_threads"] for i in threadpoolctl.threadpool_info()
                   if i["user_api"] == "blas"})


def _set_blas_threads(n):
    # From a thread that ends at once: threadpoolctl >= 3.8 lets the thread
    # that set OpenBLAS's limit own it while that thread lives.
    t = threading.Thread(target=threadpoolctl.threadpool_limits,
                         kwargs=dict(limits=n, user_api="blas"))
    t.start()
    t.join()


@pytest.fixture
def blas_at_three():
    """BLAS set to 3 threads for the test (a value gmmx never sets itself)."""
    before = _blas_threads()
    if not before:
        pytest.skip("no BLAS library seen by threadpoolctl")
    _set_blas_threads(3)
    try:
        if _blas_threads() != [3]:
            pytest.skip("this BLAS cannot be set to 3 threads from here")
        yield
    finally:
        _set_blas_threads(max(before))


def _run_threads(target, n):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_predicts_give_blas_threads_back(blas_at_three):
    # Big enough that kernel calls of different threads overlap.
    X, _, _ = blobs(20_000, 8, 4, seed=1)
    gm = GaussianMixture(4, random_state=0, max_iter=5).fit(X)  # full: BLAS inside the kernel
    expected = gm.predict(X)

    def work(i):
        for _ in range(20):
            np.testing.assert_array_equal(gm.predict(X), expected)

    _run_threads(work, 4)
    assert _blas_threads() == [3]


def test_fits_and_predicts_in_threads_give_blas_threads_back(blas_at_three):
    X, _, _ = blobs(10_000, 6, 2, seed=2)
    gm = GaussianMixture(2, random_state=0).fit(X)

    def work(i):
        for _ in range(4):
            if i % 2:
                GaussianMixture(2, random_state=i, max_iter=5, tol=0).fit(X)
            else:
                gm.score_samples(X)

    _run_threads(work, 4)
    assert _blas_threads() == [3]


def test_blas_is_held_during_a_fit_while_another_thread_predicts(blas_at_three):
    X, _, _ = blobs(600, 3, 2, seed=3)
    gm = GaussianMixture(2, random_state=0).fit(X)
    seen = []
    stop = threading.Event()

    def predict_loop():
        while not stop.is_set():
            gm.predict(X)

    t = threading.Thread(target=predict_loop)

    def record(n_iter, lower_bound):
        seen.append(_blas_threads())
        if n_iter == 1:  # the fit holds BLAS; now predict alongside
            t.start()

    try:
        GaussianMixture(2, random_state=1, max_iter=8, tol=0, callback=record).fit(X)
    finally:
        stop.set()
        t.join()
    assert seen == [[1]] * 8
    assert _blas_threads() == [3]


def test_hold_is_reentrant_and_restores_after_an_exception(blas_at_three):
    with pytest.raises(RuntimeError):
        with kernel.blas_held_to_one_thread():
            with kernel.blas_held_to_one_thread():
                assert _blas_threads() == [1]
            assert _blas_threads() == [1]
            raise RuntimeError
    assert _blas_threads() == [3]


def _interleave(first, second):
    """Enter ``first`` in thread A, then ``second`` in B; A leaves before B.

    The order of two overlapping kernel calls that leaked BLAS threads when
    each call saved and restored the limits on its own. Returns the BLAS
    thread counts seen by a kernel call that B makes after A left, and after
    both left.
    """
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with first():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with second():
            b_in.set()
            a_out.wait(10)
            with _kernel_call():
                seen["inside"] = _blas_threads()

    _run_threads(lambda i: (a, b)[i](), 2)
    seen["after"] = _blas_threads()
    return seen


def _kernel_call():
    return kernel.blas_threads_for(kernel._estep.KIND_FULL, 1)


@pytest.mark.parametrize("first, second", [
    (_kernel_call, _kernel_call),                          # two predicts
    (kernel.blas_held_to_one_thread, _kernel_call),        # a fit and a predict
    (_kernel_call, kernel.blas_held_to_one_thread),
    (kernel.blas_held_to_one_thread, kernel.blas_held_to_one_thread),  # two fits
], ids=["predict-predict", "fit-predict", "predict-fit", "fit-fit"])
def test_overlapping_holds_in_two_threads(blas_at_three, first, second):
    seen = _interleave(first, second)
    assert seen == {"inside": [1], "after": [3]}
    assert not kernel._BLAS_HOLD.held()
