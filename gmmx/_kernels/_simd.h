/* The dispatched kernels as the Cython modules see them (_vmath.pxd,
 * _kmeans.pyx, _hmm.pyx): every name is a call through the table of the
 * _simd module, which holds the copies of one SIMD target (_simd_dispatch.h).
 * A module calls gmmx_simd_import() once, at import, before any kernel. */
#ifndef GMMX_SIMD_H
#define GMMX_SIMD_H

#include "_simd_table.h"

static const gmmx_simd_table *gmmx_simd_tab = NULL;

/* 0, or -1 with an exception set when gmmx._kernels._simd cannot be imported
 * or was built from another list of functions. */
static int gmmx_simd_import(void)
{
    /* not PyCapsule_Import: it walks gmmx._kernels as attributes, which are
       set only once gmmx._kernels has finished importing */
    const gmmx_simd_table *t;
    PyObject *cap, *mod = PyImport_ImportModule("gmmx._kernels._simd");
    if (mod == NULL) return -1;
    cap = PyObject_GetAttrString(mod, "_table");
    Py_DECREF(mod);
    if (cap == NULL) return -1;
    t = (const gmmx_simd_table *)PyCapsule_GetPointer(cap, "gmmx._kernels._simd._table");
    Py_DECREF(cap); /* the module keeps the capsule, and the table is static */
    if (t == NULL) return -1;
    if (t->abi != GMMX_SIMD_ABI) {
        PyErr_Format(PyExc_ImportError,
                     "gmmx._kernels._simd has kernel table version %d, this module "
                     "expects %d: rebuild gmmx (pip install --force-reinstall, or "
                     "python setup.py build_ext --inplace)", t->abi, GMMX_SIMD_ABI);
        return -1;
    }
    gmmx_simd_tab = t;
    return 0;
}

#define gmmx_vexp               (gmmx_simd_tab->gmmx_vexp)
#define gmmx_vlog               (gmmx_simd_tab->gmmx_vlog)
#define gmmx_sum                (gmmx_simd_tab->gmmx_sum)
#define gmmx_dot                (gmmx_simd_tab->gmmx_dot)
#define gmmx_uni_stats          (gmmx_simd_tab->gmmx_uni_stats)
#define gmmx_uni_logprob        (gmmx_simd_tab->gmmx_uni_logprob)
#define gmmx_logsumexp_resp     (gmmx_simd_tab->gmmx_logsumexp_resp)
#define gmmx_acc_sq             (gmmx_simd_tab->gmmx_acc_sq)
#define gmmx_center_f64         (gmmx_simd_tab->gmmx_center_f64)
#define gmmx_center_f32         (gmmx_simd_tab->gmmx_center_f32)
#define gmmx_transpose_f64      (gmmx_simd_tab->gmmx_transpose_f64)
#define gmmx_transpose_f32      (gmmx_simd_tab->gmmx_transpose_f32)
#define gmmx_finish_logprob     (gmmx_simd_tab->gmmx_finish_logprob)
#define gmmx_all_finite         (gmmx_simd_tab->gmmx_all_finite)
#define gmmx_f32_vexp           (gmmx_simd_tab->gmmx_f32_vexp)
#define gmmx_f32_sum            (gmmx_simd_tab->gmmx_f32_sum)
#define gmmx_f32_uni_logprob    (gmmx_simd_tab->gmmx_f32_uni_logprob)
#define gmmx_f32_logsumexp      (gmmx_simd_tab->gmmx_f32_logsumexp)
#define gmmx_f32_uni_stats      (gmmx_simd_tab->gmmx_f32_uni_stats)
#define gmmx_f32_sum_log        (gmmx_simd_tab->gmmx_f32_sum_log)
#define gmmx_f32_weighted_ll    (gmmx_simd_tab->gmmx_f32_weighted_ll)
#define gmmx_f32_uni_resp2      (gmmx_simd_tab->gmmx_f32_uni_resp2)
#define gmmx_f32_uni_stats2     (gmmx_simd_tab->gmmx_f32_uni_stats2)
#define gmmx_full_weighted_rows (gmmx_simd_tab->gmmx_full_weighted_rows)
#define gmmx_full_logprob_row   (gmmx_simd_tab->gmmx_full_logprob_row)
#define gmmx_full_transpose     (gmmx_simd_tab->gmmx_full_transpose)
#define gmmx_full_center_t_f64  (gmmx_simd_tab->gmmx_full_center_t_f64)
#define gmmx_full_center_t_f32  (gmmx_simd_tab->gmmx_full_center_t_f32)
#define gmmx_full_tri_logprob   (gmmx_simd_tab->gmmx_full_tri_logprob)
#define gmmx_full_scale_rows    (gmmx_simd_tab->gmmx_full_scale_rows)
#define gmmx_full_scatter_upper (gmmx_simd_tab->gmmx_full_scatter_upper)
#define gmmx_full_wide_simd     (gmmx_simd_tab->gmmx_full_wide_simd)
#define gmmx_full_row_scatter   (gmmx_simd_tab->gmmx_full_row_scatter)
#define gmmx_full_center_r_f64  (gmmx_simd_tab->gmmx_full_center_r_f64)
#define gmmx_full_center_r_f32  (gmmx_simd_tab->gmmx_full_center_r_f32)
#define gmmx_full_scatter_rows  (gmmx_simd_tab->gmmx_full_scatter_rows)
#define gmmx_center_sq_f64      (gmmx_simd_tab->gmmx_center_sq_f64)
#define gmmx_center_sq_f32      (gmmx_simd_tab->gmmx_center_sq_f32)
#define gmmx_add_const_finite   (gmmx_simd_tab->gmmx_add_const_finite)
#define gmmx_t_resp             (gmmx_simd_tab->gmmx_t_resp)
#define kmx_distances_f64       (gmmx_simd_tab->kmx_distances_f64)
#define kmx_distances_f32       (gmmx_simd_tab->kmx_distances_f32)
#define kmx_nearest_f64         (gmmx_simd_tab->kmx_nearest_f64)
#define kmx_nearest_f32         (gmmx_simd_tab->kmx_nearest_f32)
#define kmx_gather_f64          (gmmx_simd_tab->kmx_gather_f64)
#define kmx_gather_f32          (gmmx_simd_tab->kmx_gather_f32)
#define kmx_runs_stats          (gmmx_simd_tab->kmx_runs_stats)
#define kmx_rows_1d_f64         (gmmx_simd_tab->kmx_rows_1d_f64)
#define kmx_rows_1d_f32         (gmmx_simd_tab->kmx_rows_1d_f32)
#define gmmx_hmm_forward        (gmmx_simd_tab->gmmx_hmm_forward)
#define gmmx_hmm_backward       (gmmx_simd_tab->gmmx_hmm_backward)
#define gmmx_hmm_shift          (gmmx_simd_tab->gmmx_hmm_shift)
#define gmmx_hmm_normalise_rows (gmmx_simd_tab->gmmx_hmm_normalise_rows)

#endif /* GMMX_SIMD_H */
