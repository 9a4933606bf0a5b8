# OpenMP shim: the same source builds with and without OpenMP.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define GMMX_HAVE_OPENMP 1
        static int gmmx_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
        #define GMMX_HAVE_OPENMP 0
        static int gmmx_omp_max_threads(void) { return 1; }
    #endif
    """
    bint GMMX_HAVE_OPENMP
    int gmmx_omp_max_threads() noexcept nogil
