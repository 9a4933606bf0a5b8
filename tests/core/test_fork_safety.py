"""A process forked after gmmx ran threaded kernels must not hang (libgomp is not fork-safe).

Each scenario runs in a fresh interpreter in its own session with a deadline,
so a regression fails the test instead of hanging the suite, and no hung
process outlives it.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import gmmx

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

# The child interpreter imports the same gmmx as this one (a checkout built in
# place, or the installed wheel when the tests run from outside the tree).
GMMX_HOME = os.path.dirname(os.path.dirname(os.path.abspath(gmmx.__file__)))

# 20,000 rows of 2 features make several kernel chunks, so n_threads=2 really
# starts a second OpenMP thread in the parent.
PRELUDE = """
import os, sys, time, warnings
import numpy as np
from gmmx.exceptions import ConvergenceWarning, RegCovarWarning
warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", RegCovarWarning)
warnings.filterwarnings("error", category=RuntimeWarning, module="gmmx[.]")
from gmmx import GaussianMixture
from gmmx.core import kernel

def data(seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(10_000, 2)), rng.normal(size=(10_000, 2)) + 5])

def fit_and_predict(seed):
    X = data(seed)
    gm = GaussianMixture(2, n_threads=2, random_state=0, max_iter=20).fit(X)
    labels = gm.predict(X)
    return kernel.resolve_n_threads(2), int(np.bincount(labels).min()), gm.means_.round(6).tolist()

parent_model = GaussianMixture(2, n_threads=2, random_state=0, max_iter=20).fit(data(0))
"""


def _run(body, timeout=120):
    """Run PRELUDE + body in a new session; kill the whole group on timeout."""
    code = textwrap.dedent(PRELUDE) + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=GMMX_HOME + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=GMMX_HOME,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"forked child hung (killed after {timeout} s)")
    assert proc.returncode == 0, err
    return out


def test_multiprocessing_fork_pool_after_threaded_fit():
    out = _run("""
        import multiprocessing as mp
        pool = mp.get_context("fork").Pool(4)
        try:
            results = pool.map_async(fit_and_predict, [0, 1, 2, 3]).get(timeout=60)
        except mp.TimeoutError:
            pool.terminate()
            sys.exit("TIMEOUT: forked children hang")
        pool.close()
        pool.join()
        # the parent itself still runs threaded kernels after forking
        assert kernel.resolve_n_threads(2) == 2
        ref = fit_and_predict(0)
        for threads, smallest, means in results:
            assert threads == 1, threads          # children run single-threaded
            assert smallest > 9_000, smallest      # and fit the two blobs
        assert results[0][2] == ref[2]             # same model as the parent's threaded fit
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_os_fork_child_runs_single_threaded_and_does_not_hang():
    out = _run("""
        pid = os.fork()
        if pid == 0:
            try:
                threads, smallest, _ = fit_and_predict(1)
                parent_model.score_samples(data(2))
                os._exit(0 if threads == 1 and smallest > 9_000 else 3)
            except BaseException:
                os._exit(4)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                sys.exit("TIMEOUT: forked child hangs")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_grandchild_of_a_fork_stays_single_threaded():
    # The flag is inherited: a child's own children are forked children too.
    out = _run("""
        pid = os.fork()
        if pid == 0:
            inner = os.fork()
            if inner == 0:
                os._exit(0 if fit_and_predict(3)[0] == 1 else 3)
            _, status = os.waitpid(inner, 0)
            os._exit(os.waitstatus_to_exitcode(status))
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.killpg(os.getpgid(0), 9)  # the child and the grandchild
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
    """)
    assert out.strip().endswith("ok")
