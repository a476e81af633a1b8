// lindiff kernel: batched symmetric eigendecomposition through an external LAPACK dsyevd.
// Header-only, C++20, no Python: the caller supplies the dsyevd function pointer (the Python
// bindings take it from SciPy's cython_lapack, so nothing is linked against a LAPACK here).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common.hpp"

namespace lindiff {

/// LAPACK dsyevd, Fortran ABI with 32-bit integers (as exported by scipy.linalg.cython_lapack):
/// dsyevd(jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork, info); every argument by pointer.
using dsyevd_ptr = void (*)(char* jobz, char* uplo, int* n, double* a, int* lda, double* w, double* work,
                            int* lwork, int* iwork, int* liwork, int* info);

namespace detail {

/// LAPACK leaves the eigenvectors column-major (element (r, i) at a[r + i d]) with eigenvalues
/// increasing.  Rewrite `a` in place as a row-major matrix whose column j is the eigenvector of
/// the j-th largest eigenvalue: out[r][j] = lapack[(d - 1 - j) d + r].  Seen row-major, the LAPACK
/// output is V^T (row i = eigenvector i), so reverse the row order, then transpose in place.
inline void reverse_and_transpose(double* a, std::size_t d) noexcept {
    for (std::size_t i = 0; i < d / 2; ++i) std::swap_ranges(a + i * d, a + (i + 1) * d, a + (d - 1 - i) * d);
    for (std::size_t r = 0; r < d; ++r)
        for (std::size_t c = r + 1; c < d; ++c) std::swap(a[r * d + c], a[c * d + r]);
}

}  // namespace detail

/// Eigendecompose B symmetric d x d matrices in place.
///
/// A (B x d x d, row-major): in: symmetric matrices (for a symmetric matrix row- and column-major
/// agree; only the lower triangle of the row-major matrix is read, as numpy.linalg.eigh does by
/// default: LAPACK's 'U' of the column-major view); out: eigenvectors, A[b][:, j] (row-major view) is the
/// eigenvector of w[b][j].  w (B x d): eigenvalues in decreasing order.  info (B): LAPACK's info
/// per matrix (0 = success; on failure that matrix's outputs are unspecified).
///
/// One workspace query, then an OpenMP loop over the batch (static schedule, at most
/// min(num_threads(), B) threads), each thread with its own work arrays; every matrix goes
/// through the same dsyevd call whatever the thread count, so the results do not depend on it.
/// Call it without holding the GIL.
inline void eigh_batched(dsyevd_ptr dsyevd, std::int64_t B, int d, double* A, double* w, int* info) {
    require(dsyevd != nullptr, "eigh_batched: no dsyevd function");
    require(B >= 0 && d >= 1, "eigh_batched: need B >= 0 and d >= 1");
    if (B == 0) return;
    char jobz = 'V', uplo = 'U';
    int n = d, lda = d, lwork = -1, liwork = -1, qinfo = 0, iwork_query = 0;
    double work_query = 0.0, w_query = 0.0, a_query = 0.0;
    dsyevd(&jobz, &uplo, &n, &a_query, &lda, &w_query, &work_query, &lwork, &iwork_query, &liwork, &qinfo);
    require(qinfo == 0, "eigh_batched: dsyevd workspace query failed");
    const int lwork_opt = std::max(1, static_cast<int>(work_query));
    const int liwork_opt = std::max(1, iwork_query);
    const auto dd = static_cast<std::size_t>(d);

    // per-thread work arrays, allocated here so that a failed allocation throws before the
    // parallel region (an exception must not escape it)
    const int nthreads = std::max(1, static_cast<int>(std::min<std::int64_t>(num_threads(), B)));
    const auto lw = static_cast<std::size_t>(lwork_opt), liw = static_cast<std::size_t>(liwork_opt);
    std::vector<double> work(lw * nthreads), wtmp(dd * nthreads);
    std::vector<int> iwork(liw * nthreads);

#if defined(_OPENMP)
#pragma omp parallel num_threads(nthreads)
#endif
    {
#if defined(_OPENMP)
        const auto me = static_cast<std::size_t>(omp_get_thread_num());
#else
        const std::size_t me = 0;
#endif
        double* my_work = work.data() + me * lw;
        double* my_w = wtmp.data() + me * dd;
        int* my_iwork = iwork.data() + me * liw;
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
        for (std::int64_t b = 0; b < B; ++b) {
            char jz = 'V', ul = 'U';
            int nn = d, ld = d, lwk = lwork_opt, liwk = liwork_opt, inf = 0;
            double* a = A + static_cast<std::size_t>(b) * dd * dd;
            dsyevd(&jz, &ul, &nn, a, &ld, my_w, my_work, &lwk, my_iwork, &liwk, &inf);
            info[b] = inf;
            double* wb = w + static_cast<std::size_t>(b) * dd;
            for (std::size_t j = 0; j < dd; ++j) wb[j] = my_w[dd - 1 - j];
            detail::reverse_and_transpose(a, dd);
        }
    }
}

}  // namespace lindiff
