"""Native kernels of gmmx (Cython + OpenMP).

OpenMP threads that finish early wait at the end of a parallel region; by
default libgomp spins there, which on a busy machine steals the core from the
thread that is still working (measured: 8-11 ms lost per kernel call with the
other core loaded). gmmx's kernels run one parallel region per pass, so the
runtime it loads is started with passive waiting unless the user chose a
policy. The variable is restored at once: runtimes loaded later are unaffected.
"""

import os

_POLICY = "OMP_WAIT_POLICY"
_user_policy = os.environ.get(_POLICY)
if _user_policy is None:
    os.environ[_POLICY] = "PASSIVE"
try:
    from . import _estep  # noqa: F401  (loads the OpenMP runtime)
finally:
    if _user_policy is None:
        os.environ.pop(_POLICY, None)
