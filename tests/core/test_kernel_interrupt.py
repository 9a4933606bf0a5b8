"""Ctrl-C (any signal whose handler raises) stops a long kernel call promptly.

The kernel checks for signals between chunks (at most every few tens of
milliseconds, from the calling thread), so one long ``score_samples`` no
longer runs to its end before the ``KeyboardInterrupt`` is seen. The tests
count rows, not seconds: the check-interval hook checks before every chunk.
"""

import signal
import threading
import time

import numpy as np
import pytest
from conftest import expected_warnings

from gmmx import GaussianMixture
from gmmx._kernels import _estep
from gmmx.core import kernel

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
    with expected_warnings():
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


@pytest.fixture
def check_every_chunk():
    """The kernel's check-interval hook at 0: the signal check runs before every chunk,
    so how far a call gets after a signal no longer depends on the machine's speed."""
    previous = _estep.set_signal_interval(0.0)
    yield
    _estep.set_signal_interval(previous)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_signal_interrupts_a_long_score_samples(big, n_threads, check_every_chunk):
    """A signal sent once the call has written its first rows stops it before its
    end: rows are counted (the output starts as NaN), nothing is timed."""
    gm, X = big
    kp = gm._kernel_params(gm._get_parameters())
    out = np.full(X.shape[0], np.nan)
    main = threading.main_thread().ident
    sent = {}

    def send_when_started():
        while np.isnan(out[0]):
            time.sleep(0)
        sent["rows"] = int(np.count_nonzero(~np.isnan(out)))
        signal.pthread_kill(main, signal.SIGALRM)

    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    try:
        watcher = threading.Thread(target=send_when_started)
        watcher.start()
        with pytest.raises(Alarm):
            kernel._run(X, kernel._EMPTY, kp, n_threads, 0, False, out, None)
        watcher.join()
    finally:
        signal.signal(signal.SIGALRM, previous)
    done = int(np.count_nonzero(~np.isnan(out)))
    assert 0 < sent["rows"] <= done < X.shape[0], (sent, done)
    # the estimator still works afterwards, with and without the per-chunk check
    np.testing.assert_array_equal(gm.score_samples(X[:100]),
                                  kernel.log_prob_norm(X[:100], kp, n_threads))


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
