// lindiff kernel: log-sum-exp of pairwise Gaussian overlaps, the hot loop of the relative-distance
// memorization criterion (spec memorization.md §1).
//
//   out[i] = log sum_{j in J(i)} exp(-scale * |x_i - y_j|^2)
//
// with J(i) = all j (mode None), all j != i (mode Diagonal, X and Y the same set) or all j > i
// (mode Upper: half of the symmetric double sum over i != j, which the caller doubles).
//
// Squared distances come from chunked GEMMs, |x|^2 + |y|^2 - 2 x.y clamped at 0, and feed a
// streaming row-wise log-sum-exp (running max and rescaled sum), so memory is O(chunk^2), never
// O(n m).  Rows are split into fixed chunks processed by one thread each with a fixed column
// order: results are bitwise independent of the OpenMP thread count.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "fastmath.hpp"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "common.hpp"

namespace lindiff {

enum class LseMode : int { None = 0, Diagonal = 1, Upper = 2 };

struct LseChunks {
    int rows = 64;    ///< rows of X per work unit
    int cols = 512;   ///< columns of Y per GEMM block
};

namespace detail {


#if defined(__AVX2__) && defined(__FMA__)
/// Four lanes of exp_branchfree for x <= 0 (same steps, same rounding: fused multiply-adds throughout).
inline __m256d exp_nonpos4(__m256d x) noexcept {
    const __m256d shifter = _mm256_set1_pd(6755399441055744.0);
    x = _mm256_max_pd(x, _mm256_set1_pd(-708.0));
    const __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634074), shifter);
    const __m256d k = _mm256_sub_pd(t, shifter);
    const __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10),
                                       _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01), x));
    __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 479001600.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 39916800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
    const __m256i kb = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(shifter));
    const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(kb, _mm256_set1_epi64x(1023)), 52);
    return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
}
#endif

/// g[c] <- -scale * max(xi2 + y2[c] - 2 g[c], 0); returns the maximum of the new g.
inline double overlap_row(double* g, const double* y2, int nj, double xi2, double scale) noexcept {
    double bm = -std::numeric_limits<double>::infinity();
    int c = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256d vx = _mm256_set1_pd(xi2), vs = _mm256_set1_pd(-scale), two = _mm256_set1_pd(2.0);
    const __m256d zero = _mm256_setzero_pd();
    __m256d vm = _mm256_set1_pd(bm);
    for (; c + 4 <= nj; c += 4) {
        const __m256d d2 = _mm256_fnmadd_pd(two, _mm256_loadu_pd(g + c), _mm256_add_pd(vx, _mm256_loadu_pd(y2 + c)));
        const __m256d v = _mm256_mul_pd(vs, _mm256_max_pd(d2, zero));
        _mm256_storeu_pd(g + c, v);
        vm = _mm256_max_pd(vm, v);
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, vm);
    bm = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
    for (; c < nj; ++c) {
        const double v = -scale * std::max(std::fma(-2.0, g[c], xi2 + y2[c]), 0.0);
        g[c] = v;
        bm = std::max(bm, v);
    }
#else
    for (; c < nj; ++c) {
        const double v = -scale * std::max(xi2 + y2[c] - 2.0 * g[c], 0.0);
        g[c] = v;
        bm = std::max(bm, v);
    }
#endif
    return bm;
}

/// sum_c exp(g[c] - m0) for g[c] <= m0 (-inf entries contribute at most e^-708).
inline double sum_exp_row(const double* g, int nj, double m0) noexcept {
    double acc = 0.0;
    int c = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256d vm0 = _mm256_set1_pd(m0);
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    for (; c + 8 <= nj; c += 8) {
        a0 = _mm256_add_pd(a0, exp_nonpos4(_mm256_sub_pd(_mm256_loadu_pd(g + c), vm0)));
        a1 = _mm256_add_pd(a1, exp_nonpos4(_mm256_sub_pd(_mm256_loadu_pd(g + c + 4), vm0)));
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, _mm256_add_pd(a0, a1));
    acc = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; c < nj; ++c) acc += exp_branchfree(g[c] - m0);
    return acc;
}

}  // namespace detail

/// See the file comment.  X is n x d, Y is m x d, both row-major (one point per row); out has n
/// entries (-inf where J(i) is empty).  For modes Diagonal and Upper, Y must be X itself (n == m).
inline void logsumexp_gauss(std::span<const double> X, std::span<const double> Y, int n, int m, int d,
                            double scale, LseMode mode, std::span<double> out, LseChunks chunks = {}) {
    require(n >= 0 && m >= 0 && d >= 1, "logsumexp_gauss: bad shapes");
    require(X.size() == std::size_t(n) * std::size_t(d) && Y.size() == std::size_t(m) * std::size_t(d),
            "logsumexp_gauss: X must be n x d and Y m x d");
    require(out.size() == std::size_t(n), "logsumexp_gauss: out must have n entries");
    require(mode == LseMode::None || n == m, "logsumexp_gauss: modes Diagonal/Upper need Y = X");
    require(std::isfinite(scale) && scale > 0, "logsumexp_gauss: scale must be finite and > 0");
    require(chunks.rows >= 1 && chunks.cols >= 1, "logsumexp_gauss: chunk sizes must be >= 1");
    using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RowMat> Xm(X.data(), n, d), Ym(Y.data(), m, d);
    const Eigen::VectorXd x2 = Xm.rowwise().squaredNorm();
    const Eigen::VectorXd y2 = Ym.rowwise().squaredNorm();
    const int rc = chunks.rows, cc = chunks.cols;
    const int nblocks = (n + rc - 1) / rc;
    constexpr double ninf = -std::numeric_limits<double>::infinity();

#pragma omp parallel
    {
        RowMat G(rc, cc);
        std::vector<double> mx(rc), s(rc);
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < nblocks; ++b) {
            const int i0 = b * rc, ni = std::min(rc, n - i0);
            std::fill(mx.begin(), mx.end(), ninf);
            std::fill(s.begin(), s.end(), 0.0);
            const int jstart = mode == LseMode::Upper ? i0 : 0;
            for (int j0 = jstart; j0 < m; j0 += cc) {
                const int nj = std::min(cc, m - j0);
                G.topLeftCorner(ni, nj).noalias() = Xm.middleRows(i0, ni) * Ym.middleRows(j0, nj).transpose();
                for (int r = 0; r < ni; ++r) {
                    const int i = i0 + r;
                    double* g = G.row(r).data();
                    double bm = detail::overlap_row(g, y2.data() + j0, nj, x2[i], scale);
                    // excluded entries: j == i (Diagonal) or j <= i (Upper) within this block
                    int cbeg = 0, cend = 0;
                    if (mode == LseMode::Diagonal && i >= j0 && i < j0 + nj) {
                        cbeg = i - j0;
                        cend = cbeg + 1;
                    } else if (mode == LseMode::Upper && i >= j0) {
                        cend = std::min(i - j0 + 1, nj);
                    }
                    if (cend > cbeg) {
                        for (int c = cbeg; c < cend; ++c) g[c] = ninf;
                        bm = ninf;
                        for (int c = 0; c < nj; ++c) bm = std::max(bm, g[c]);
                    }
                    if (bm == ninf) continue;
                    if (bm > mx[r]) {
                        if (s[r] > 0) s[r] *= exp_branchfree(mx[r] - bm);
                        mx[r] = bm;
                    }
                    s[r] += detail::sum_exp_row(g, nj, mx[r]);
                }
            }
            for (int r = 0; r < ni; ++r) out[i0 + r] = mx[r] == ninf ? ninf : mx[r] + std::log(s[r]);
        }
    }
}

}  // namespace lindiff
