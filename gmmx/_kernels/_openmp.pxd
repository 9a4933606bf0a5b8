# OpenMP shim: the same source builds with and without OpenMP.
#
# Also the kernels' two safety valves, shared by every parallel loop:
# * a flag written by one thread and read by the others between chunks
#   (volatile accesses: a stale read only delays the stop by one chunk);
# * a rate-limited signal check from the thread that called the kernel, so
#   Ctrl-C stops a long call promptly without taking the GIL on every chunk.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define GMMX_HAVE_OPENMP 1
        static int gmmx_omp_max_threads(void) { return omp_get_max_threads(); }
        static int gmmx_omp_thread_num(void) { return omp_get_thread_num(); }
        static double gmmx_wtime(void) { return omp_get_wtime(); }
    #else
        #include <time.h>
        #define GMMX_HAVE_OPENMP 0
        static int gmmx_omp_max_threads(void) { return 1; }
        static int gmmx_omp_thread_num(void) { return 0; }
        /* one thread, busy computing: processor time tracks wall time */
        static double gmmx_wtime(void) { return (double) clock() / CLOCKS_PER_SEC; }
    #endif

    /* seconds between two signal checks of one kernel call (per extension
       module; tests set 0 to check before every chunk, see
       gmmx._kernels._estep.set_signal_interval) */
    static double gmmx_signal_interval = 0.05;
    #define GMMX_SIGNAL_INTERVAL gmmx_signal_interval

    static void gmmx_flag_set(int *flag) { *(volatile int *) flag = 1; }
    static int gmmx_flag_get(const int *flag) { return *(const volatile int *) flag; }

    /* From the thread that called the kernel (OpenMP thread 0) only: run the
       Python signal handlers if GMMX_SIGNAL_INTERVAL has passed since the
       last check. Returns 1 when a handler raised (the exception is then set
       in the calling thread's state), else 0. */
    static int gmmx_poll_signals(double *next_check) {
        double now;
        int rc;
        PyGILState_STATE gil;
        if (gmmx_omp_thread_num() != 0)
            return 0;
        now = gmmx_wtime();
        if (now < *next_check)
            return 0;
        *next_check = now + GMMX_SIGNAL_INTERVAL;
        gil = PyGILState_Ensure();
        rc = PyErr_CheckSignals();
        PyGILState_Release(gil);
        return rc != 0;
    }

    /* -1 (raise) if a signal handler left an exception set, else 0. */
    static int gmmx_pending_error(void) { return PyErr_Occurred() ? -1 : 0; }
    """
    bint GMMX_HAVE_OPENMP
    double GMMX_SIGNAL_INTERVAL
    double gmmx_signal_interval
    int gmmx_omp_max_threads() noexcept nogil
    int gmmx_omp_thread_num() noexcept nogil
    double gmmx_wtime() noexcept nogil
    void gmmx_flag_set(int *flag) noexcept nogil
    int gmmx_flag_get(const int *flag) noexcept nogil
    int gmmx_poll_signals(double *next_check) noexcept nogil
    int gmmx_pending_error() except -1
