// lindiff kernel: a counter-based random number generator (Philox4x32-10, Salmon et al., SC'11).
//
// A draw is a pure function of (key, counter): the i-th normal of a stream does not depend on
// which thread produces it, in which order, or on the batch it belongs to.  Streams used by the
// simulator (see simulate.hpp) put the step, the diffusion time and a purpose tag into the
// counter words and the per-draw seed into the key.  Host and device (LINDIFF_HD).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common.hpp"

namespace lindiff {

struct Philox4x32 {
    std::uint32_t key[2];

    static constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    static constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    struct Block {
        std::uint32_t w0, w1, w2, w3;
    };

    /// The 4 output words for counter (c0, c1, c2, c3): 10 rounds.
    LINDIFF_HD Block block(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3) const noexcept {
        std::uint32_t k0 = key[0], k1 = key[1];
        LINDIFF_UNROLL(10)
        for (int r = 0; r < 10; ++r) {
            const std::uint64_t p0 = std::uint64_t(M0) * c0, p1 = std::uint64_t(M1) * c2;
            const auto hi0 = std::uint32_t(p0 >> 32), lo0 = std::uint32_t(p0);
            const auto hi1 = std::uint32_t(p1 >> 32), lo1 = std::uint32_t(p1);
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        return {c0, c1, c2, c3};
    }

    /// The same block as an array.
    LINDIFF_HD void operator()(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                               std::uint32_t out[4]) const noexcept {
        const Block b = block(c0, c1, c2, c3);
        out[0] = b.w0, out[1] = b.w1, out[2] = b.w2, out[3] = b.w3;
    }
};

namespace detail {

LINDIFF_HD inline std::uint64_t bits_of(double x) noexcept {
    std::uint64_t b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}
LINDIFF_HD inline double double_of(std::uint64_t b) noexcept {
    double x;
    std::memcpy(&x, &b, sizeof x);
    return x;
}

}  // namespace detail

/// A uniform double in (0, 1] from 52 bits of two words (never 0: safe inside log): 2 - [1, 2).
/// Only bit operations and a subtraction (no integer-to-double conversion: vectorisable).
LINDIFF_HD inline double uniform_open0(std::uint32_t hi, std::uint32_t lo) noexcept {
    const std::uint64_t m52 = ((std::uint64_t(hi) << 20) ^ std::uint64_t(lo >> 12)) & 0x000FFFFFFFFFFFFFull;
    return 2.0 - detail::double_of(0x3FF0000000000000ull | m52);
}

/// A uniform double in [0, 1) from 52 bits of two words.
LINDIFF_HD inline double uniform_closed0(std::uint32_t hi, std::uint32_t lo) noexcept {
    const std::uint64_t m52 = ((std::uint64_t(hi) << 20) ^ std::uint64_t(lo >> 12)) & 0x000FFFFFFFFFFFFFull;
    return detail::double_of(0x3FF0000000000000ull | m52) - 1.0;
}

/// ln(u) for a normal double u > 0 (about 1 ulp), branch-free polynomial code that compilers
/// vectorise (glibc's scalar log does not): u = m 2^e with m in [1/sqrt2, sqrt2),
/// ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.1716, 11 terms of the series.
LINDIFF_HD inline double log_positive(double u) noexcept {
    const std::uint64_t b = detail::bits_of(u);
    const std::uint64_t mant = b & 0x000FFFFFFFFFFFFFull;
    const std::uint64_t big = mant > 0x6A09E667F3BCCull;  // m > sqrt 2: use m/2 and e + 1 (integer ops only)
    const double m = detail::double_of(mant | (0x3FF0000000000000ull - (big << 52)));
    // the exponent as a double without an integer conversion: 2^52 + k has k in its low bits
    const double e = detail::double_of(0x4330000000000000ull | ((b >> 52) + big)) - (4503599627370496.0 + 1023.0);
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = 1.0 / 21;
    p = p * s2 + 1.0 / 19;
    p = p * s2 + 1.0 / 17;
    p = p * s2 + 1.0 / 15;
    p = p * s2 + 1.0 / 13;
    p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;
    p = p * s2 + 1.0 / 7;
    p = p * s2 + 1.0 / 5;
    p = p * s2 + 1.0 / 3;
    constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    return e * ln2_hi + (2.0 * s + (2.0 * s * s2 * p + e * ln2_lo));
}

/// sin(2 pi u) and cos(2 pi u) for u in [0, 1] (about 1 ulp), branch-free: the nearest quarter
/// turn q and x = (4u - q) pi/2 in [-pi/4, pi/4], Taylor polynomials, then the quadrant rotation.
/// Compile without -ffast-math (the rounding trick needs strict IEEE addition).
struct SinCos {
    double sin, cos;
};
LINDIFF_HD inline SinCos sincos_turn(double u) noexcept {
    const double v = 4.0 * u;
    const double shifted = v + 4503599627370496.0;  // + 2^52: rounds v to the nearest integer q
    const double q = shifted - 4503599627370496.0;
    const double x = (v - q) * 1.5707963267948966;
    const double x2 = x * x;
    double ps = -1.0 / 355687428096000.0;                   // -1/17!
    ps = ps * x2 + 1.0 / 1307674368000.0;                   // 1/15!
    ps = ps * x2 - 1.0 / 6227020800.0;
    ps = ps * x2 + 1.0 / 39916800.0;
    ps = ps * x2 - 1.0 / 362880.0;
    ps = ps * x2 + 1.0 / 5040.0;
    ps = ps * x2 - 1.0 / 120.0;
    ps = ps * x2 + 1.0 / 6.0;
    const double s = x - x * x2 * ps;
    double pc = 1.0 / 20922789888000.0;                     // 1/16!
    pc = pc * x2 - 1.0 / 87178291200.0;
    pc = pc * x2 + 1.0 / 479001600.0;
    pc = pc * x2 - 1.0 / 3628800.0;
    pc = pc * x2 + 1.0 / 40320.0;
    pc = pc * x2 - 1.0 / 720.0;
    pc = pc * x2 + 1.0 / 24.0;
    pc = pc * x2 - 0.5;
    const double c = 1.0 + x2 * pc;
    // sin/cos(x + quadrant pi/2) by bit selects and sign flips (no branches: vectorisable)
    const std::uint64_t quadrant = detail::bits_of(shifted) & 3u;  // q mod 4, from the low bits of 2^52 + q
    const std::uint64_t swap = 0 - (quadrant & 1u);          // all ones for odd quadrants
    const std::uint64_t bs = detail::bits_of(s), bc = detail::bits_of(c);
    const std::uint64_t rs = (bc & swap) | (bs & ~swap), rc = (bs & swap) | (bc & ~swap);
    return {detail::double_of(rs ^ ((quadrant & 2u) << 62)), detail::double_of(rc ^ (((quadrant + 1u) & 2u) << 62))};
}

/// Two standard normals from the four words of one Philox block (Box-Muller on two 52-bit
/// uniforms, u1 in (0, 1] for the radius, u2 in [0, 1) for the angle).
struct NormalPair {
    double z0, z1;
};
LINDIFF_HD inline NormalPair box_muller(std::uint32_t w0, std::uint32_t w1, std::uint32_t w2, std::uint32_t w3) noexcept {
    const double r = std::sqrt(-2.0 * log_positive(uniform_open0(w0, w1)));
    const SinCos a = sincos_turn(uniform_closed0(w2, w3));
    return {r * a.cos, r * a.sin};
}

/// Two standard normals from one Philox block.
LINDIFF_HD inline void normal_pair(const Philox4x32& g, std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                   std::uint32_t c3, double& z0, double& z1) noexcept {
    const Philox4x32::Block b = g.block(c0, c1, c2, c3);
    const NormalPair z = box_muller(b.w0, b.w1, b.w2, b.w3);
    z0 = z.z0, z1 = z.z1;
}

/// out[i], i < n: the i-th standard normal of the stream (key, c1, c2, c3); normal i comes from
/// counter (i / 2, c1, c2, c3) exactly as normal_pair makes it, so any sub-range can be
/// regenerated independently.  Host code: blocks of pairs in SIMD lanes.
inline void fill_normal(const Philox4x32& g, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, double* out,
                        std::size_t n) noexcept {
    constexpr std::size_t lanes = 64;
    const std::size_t pairs = n / 2;
    double z0[lanes], z1[lanes];
    std::uint32_t w0[lanes], w1[lanes], w2[lanes], w3[lanes];
    for (std::size_t p0 = 0; p0 < pairs; p0 += lanes) {
        const std::size_t m = pairs - p0 < lanes ? pairs - p0 : lanes;
#pragma omp simd
        for (std::size_t j = 0; j < m; ++j) {
            const Philox4x32::Block b = g.block(std::uint32_t(p0 + j), c1, c2, c3);
            w0[j] = b.w0, w1[j] = b.w1, w2[j] = b.w2, w3[j] = b.w3;
        }
#pragma omp simd
        for (std::size_t j = 0; j < m; ++j) {
            const NormalPair z = box_muller(w0[j], w1[j], w2[j], w3[j]);
            z0[j] = z.z0, z1[j] = z.z1;
        }
        for (std::size_t j = 0; j < m; ++j) {
            out[2 * (p0 + j)] = z0[j];
            out[2 * (p0 + j) + 1] = z1[j];
        }
    }
    if (n % 2) {
        double spare;
        normal_pair(g, std::uint32_t(pairs), c1, c2, c3, out[n - 1], spare);
    }
}

/// out[i], i < n: uniform integers in [0, bound) of the stream (key, c1, c2, c3), one 32-bit word
/// each (Lemire's multiply-shift; the bias is below bound / 2^32).
inline void fill_index(const Philox4x32& g, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                       std::uint32_t bound, std::int64_t* out, std::size_t n) noexcept {
    std::uint32_t w[4];
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 4 == 0) g(std::uint32_t(i / 4), c1, c2, c3, w);
        out[i] = std::int64_t((std::uint64_t(w[i % 4]) * bound) >> 32);
    }
}

}  // namespace lindiff
