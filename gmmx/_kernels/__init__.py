"""Native kernels of gmmx (Cython + OpenMP).

OpenMP threads that finish early wait at the end of a parallel region; by
default libgomp spins there, which on a busy machine steals the core from the
thread that is still working (measured: 8-11 ms lost per kernel call with the
other core loaded). gmmx's kernels run one parallel region per pass, so the
runtime it loads is started with passive waiting unless the user chose a
policy. The variable is restored at once: runtimes loaded later are unaffected.

Fork safety: libgomp keeps its worker threads in a pool owned by the thread
that started them; after ``fork()`` the child inherits the pool's bookkeeping
but not its threads, so the child's first parallel region of more than one
thread waits for them forever. An at-fork handler therefore makes every
kernel of a forked child (and of its own children) run on one thread.
"""

import os

_POLICY = "OMP_WAIT_POLICY"
_user_policy = os.environ.get(_POLICY)
if _user_policy is None:
    os.environ[_POLICY] = "PASSIVE"
try:
    from . import _estep  # noqa: F401  (loads the OpenMP runtime)
    from . import _kmeans
except ImportError as exc:
    if any(name.startswith("_estep.") and name.endswith((".so", ".pyd"))
           for name in os.listdir(os.path.dirname(os.path.abspath(__file__)))):
        raise
    raise ImportError(
        f"gmmx's compiled kernels are not built in {os.path.dirname(os.path.dirname(__file__))!r}"
        ": this is a source checkout. Build it in place (python setup.py build_ext --inplace) "
        "or install it (pip install .) and run from outside the checkout"
    ) from exc
finally:
    if _user_policy is None:
        os.environ.pop(_POLICY, None)


def _after_fork_in_child():
    _estep._after_fork_in_child()
    _kmeans._after_fork_in_child()


def in_forked_child():
    """True in a process forked after gmmx was imported: kernels run on one thread there."""
    return _estep.single_threaded()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
