// lindiff kernel: a counter-based random number generator (Philox4x32-10, Salmon et al., SC'11).
//
// A draw is a pure function of (key, counter): the i-th normal of a stream does not depend on
// which thread produces it, in which order, or on the batch it belongs to.  Streams used by the
// simulator (see simulate.hpp) put the step, the diffusion time and a purpose tag into the
// counter words and the per-draw seed into the key.  Host and device (LINDIFF_HD).
#pragma once

#include <cmath>
#include <cstdint>

#include "common.hpp"

namespace lindiff {

struct Philox4x32 {
    std::uint32_t key[2];

    static constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    static constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    /// The 4 output words for counter (c0, c1, c2, c3): 10 rounds.
    LINDIFF_HD void operator()(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                               std::uint32_t out[4]) const noexcept {
        std::uint32_t k0 = key[0], k1 = key[1];
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
        out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
    }
};

/// A uniform double in (0, 1] from 53 bits of two words (never 0: safe inside log).
LINDIFF_HD inline double uniform_open0(std::uint32_t hi, std::uint32_t lo) noexcept {
    const std::uint64_t bits = (std::uint64_t(hi) << 21) ^ (std::uint64_t(lo) >> 11);  // 53 bits
    return (double(bits & ((std::uint64_t(1) << 53) - 1)) + 1.0) * 0x1.0p-53;
}

/// Two standard normals from one Philox block (Box-Muller on two 53-bit uniforms).
LINDIFF_HD inline void normal_pair(const Philox4x32& g, std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                   std::uint32_t c3, double& z0, double& z1) noexcept {
    std::uint32_t w[4];
    g(c0, c1, c2, c3, w);
    const double u1 = uniform_open0(w[0], w[1]);
    const double u2 = uniform_open0(w[2], w[3]);
    const double r = std::sqrt(-2.0 * std::log(u1));
    constexpr double two_pi = 6.283185307179586476925286766559;
    z0 = r * std::cos(two_pi * u2);
    z1 = r * std::sin(two_pi * u2);
}

/// out[i], i < n: the i-th standard normal of the stream (key, c1, c2, c3); normal i comes from
/// counter (i / 2, c1, c2, c3), so any sub-range can be regenerated independently.
inline void fill_normal(const Philox4x32& g, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, double* out,
                        std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 1 < n; i += 2) normal_pair(g, std::uint32_t(i / 2), c1, c2, c3, out[i], out[i + 1]);
    if (i < n) {
        double spare;
        normal_pair(g, std::uint32_t(i / 2), c1, c2, c3, out[i], spare);
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
