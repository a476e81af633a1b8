// lindiff kernel: fused multiply-add and branch-free, call-free exp / expm1 (they vectorise in
// SIMD loops and run in CUDA device code). One home for the kernels that need them: the kappa
// starts (kappa.hpp), the Gaussian log-sum-exp (memorization.hpp), the training-time losses
// (contour.hpp).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

#include "common.hpp"

namespace lindiff {

/// a * b + c, fused where the target has FMA. The kernel builds without implicit contraction
/// (-ffp-contract=off: the compiler would decide per inlining context, and a one-point solve
/// must round as the batch does), so every sum of products is fused here, explicitly.
LINDIFF_HD inline double fma_if_fast(double a, double b, double c) noexcept {
#if defined(__FMA__) || defined(__CUDA_ARCH__)
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

namespace detail {

/// Cody-Waite reduction x = k ln 2 + r, |r| <= ln 2 / 2, and P(r) with e^r - 1 = r P(r) (Taylor
/// to r^13/13!, remainder below 5e-18 relative). `two_k` is 2^k from its exponent bits (the
/// 1.5 2^52 rounding trick: no double -> int conversion). Needs x in [-708, 709].
struct ExpReduced {
    double r, p, two_k;
};

LINDIFF_HD inline ExpReduced exp_reduce(double x) noexcept {
    constexpr double log2e = 1.4426950408889634074;
    constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to an integer in the low bits
    const double t = fma_if_fast(x, log2e, shifter);
    const double k = t - shifter;
    const double r = fma_if_fast(-k, ln2_lo, fma_if_fast(-k, ln2_hi, x));
    double p = 1.0 / 6227020800.0;  // 1/13!
    p = fma_if_fast(p, r, 1.0 / 479001600.0);
    p = fma_if_fast(p, r, 1.0 / 39916800.0);
    p = fma_if_fast(p, r, 1.0 / 3628800.0);
    p = fma_if_fast(p, r, 1.0 / 362880.0);
    p = fma_if_fast(p, r, 1.0 / 40320.0);
    p = fma_if_fast(p, r, 1.0 / 5040.0);
    p = fma_if_fast(p, r, 1.0 / 720.0);
    p = fma_if_fast(p, r, 1.0 / 120.0);
    p = fma_if_fast(p, r, 1.0 / 24.0);
    p = fma_if_fast(p, r, 1.0 / 6.0);
    p = fma_if_fast(p, r, 0.5);
    p = fma_if_fast(p, r, 1.0);
    const std::uint64_t kb = std::bit_cast<std::uint64_t>(t) - std::bit_cast<std::uint64_t>(shifter);
    return {r, p, std::bit_cast<double>((kb + 1023) << 52)};
}

}  // namespace detail

/// e^x, relative error ~1e-15 (a few ulp); x clamped to [-708, 709] (e^-708 ~ 3e-308).
LINDIFF_HD inline double exp_branchfree(double x) noexcept {
    x = std::min(std::max(x, -708.0), 709.0);
    const detail::ExpReduced e = detail::exp_reduce(x);
    return fma_if_fast(e.p, e.r, 1.0) * e.two_k;
}

/// e^y - 1 for y <= 0 (any magnitude): 2^k (r P(r)) + (2^k - 1), exact in the k = 0 case that
/// needs it; -1 to rounding below y = -708. About 1 ulp from std::expm1.
LINDIFF_HD inline double expm1_nonpositive(double y) noexcept {
    const detail::ExpReduced e = detail::exp_reduce(std::max(y, -708.0));
    return fma_if_fast(e.two_k, e.r * e.p, e.two_k - 1.0);
}

}  // namespace lindiff
