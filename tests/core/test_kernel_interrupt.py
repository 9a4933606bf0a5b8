"""Ctrl-C (any signal whose handler raises) stops a long kernel call promptly.

The kernel checks for signals between chunks (at most every few tens of
milliseconds, from the calling thread), so one long ``score_samples`` no
longer runs to its end before the ``KeyboardInterrupt`` is seen.
"""

import signal
import threading
import time
import warnings

import numpy as np
import pytest

from gmmx import GaussianMixture

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")


class Alarm(Exception):
    pass


def _model(n_components=128, n_features=64, seed=0):
    """A full-covariance model built without fitting (max_iter=0, given parameters)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_components, n_features))
    prec = np.repeat(np.eye(n_features)[None], n_components, axis=0)
    gm = GaussianMixture(n_components, max_iter=0, means_init=means, precisions_init=prec,
                         weights_init=np.full(n_components, 1.0 / n_components))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(rng.normal(size=(n_components, n_features)))
    return gm


@pytest.fixture
def alarm_after():
    previous = signal.signal(signal.SIGALRM, _raise_alarm)

    def arm(seconds):
        signal.setitimer(signal.ITIMER_REAL, seconds)

    yield arm
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _raise_alarm(signum, frame):
    raise Alarm


@pytest.fixture(scope="module")
def big():
    """(model, rows): scoring all rows takes seconds (~1 GFLOP per 1,000 rows)."""
    return _model(), np.random.default_rng(1).normal(size=(60_000, 64))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_signal_interrupts_a_long_score_samples(alarm_after, big, n_threads):
    gm, X = big
    gm.n_threads = n_threads
    t0 = time.perf_counter()
    gm.score_samples(X[: len(X) // 8])
    full = 8 * (time.perf_counter() - t0)  # about 2 s on the 2-core CI machine
    assert full > 0.5, "the call must take long enough to tell an interrupt from its end"
    alarm_after(0.2)
    t0 = time.perf_counter()
    with pytest.raises(Alarm):
        gm.score_samples(X)
    elapsed = time.perf_counter() - t0
    # The signal comes after 0.2 s of a call that takes `full` seconds; it is
    # seen within one check interval and one chunk.
    assert elapsed < 0.2 + 0.25 * full, (elapsed, full)
    # the estimator still works afterwards
    assert np.all(np.isfinite(gm.score_samples(X[:100])))


def test_no_signal_no_change():
    # Results do not depend on the checks (nor on the thread count).
    gm = _model(8, 4, seed=2)
    X = np.random.default_rng(3).normal(size=(50_000, 4))
    gm.n_threads = 1
    one = gm.score_samples(X)
    gm.n_threads = 2
    np.testing.assert_array_equal(gm.score_samples(X), one)


def test_kernel_in_a_worker_thread_ignores_signals_meant_for_the_main_thread(alarm_after, big):
    # Only the main thread runs Python signal handlers; a worker's kernel runs on.
    gm, X = big
    gm.n_threads = 1
    X = X[:8_000]
    out, done = {}, threading.Event()

    def work():
        out["ll"] = gm.score_samples(X)
        done.set()

    t = threading.Thread(target=work)
    alarm_after(0.05)
    t.start()
    with pytest.raises(Alarm):
        done.wait(5)
        time.sleep(5)  # if the worker finished before the alarm
    assert done.wait(60)
    t.join()
    np.testing.assert_array_equal(out["ll"], gm.score_samples(X))
