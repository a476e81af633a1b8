// lindiff kernel: the tables behind the a-priori error bound of a compressed spectrum's Gauss rule
// (python/lindiff/_compress.py).  For f(u) = 1 / (1 + kappa e^-u), u = center + half x, the
// Bernstein ellipses in x below the nearest pole u = log kappa +- i pi, and max |f| on each.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstddef>
#include <limits>
#include <numbers>
#include <vector>

#include "common.hpp"

namespace lindiff {

namespace detail {

/// numpy.linspace(a, b, n)[i] (endpoint included; the last value exactly b).
inline double linspace_at(double a, double b, std::size_t n, std::size_t i) noexcept {
    return i + 1 == n ? b : a + static_cast<double>(i) * ((b - a) / static_cast<double>(n - 1));
}

}  // namespace detail

/// For each kappa (K of them): n_rho ellipse parameters rho_j = rho_pole^t_j, t_j evenly spaced in
/// [0.02, 0.985], rho_pole the ellipse through the nearer pole, and M_j = max |f| over n_phi
/// angles of that ellipse (n_phi/2 + 1 angles in [0, pi] when every kappa is real: the ellipse is
/// then symmetric).  |1 + e^-v|^2 = (1 - e)^2 + 4 e cos^2(Im v / 2), e = exp(-Re v), in real
/// arithmetic (no cancellation); a non-finite |f| is +inf.  Row-major (K, n_rho) outputs.
inline void ellipse_tables(const std::complex<double>* kappa, std::size_t K, double center, double half,
                           std::size_t n_rho, std::size_t n_phi, double* rho_out, double* m_out) {
    bool all_real = true;
    std::vector<std::complex<double>> lk(K);
    for (std::size_t k = 0; k < K; ++k) {
        lk[k] = std::log(kappa[k]);
        all_real = all_real && lk[k].imag() == 0.0;
    }
    const std::size_t n_ang = all_real ? n_phi / 2 + 1 : n_phi;
    std::vector<double> cphi(n_ang), sphi(n_ang);
    for (std::size_t a = 0; a < n_ang; ++a) {
        const double phi = all_real ? detail::linspace_at(0.0, std::numbers::pi, n_ang, a)
                                    : 2 * std::numbers::pi * static_cast<double>(a) / static_cast<double>(n_phi);
        cphi[a] = std::cos(phi);
        sphi[a] = std::sin(phi);
    }
    const std::complex<double> ipi(0.0, std::numbers::pi);
    for (std::size_t k = 0; k < K; ++k) {
        const double rho_pole = std::min(bernstein_rho((lk[k] + ipi - center) / half),
                                         bernstein_rho((lk[k] - ipi - center) / half));
        const double lrp = std::log(rho_pole);
        for (std::size_t j = 0; j < n_rho; ++j) {
            const double rho = std::exp(lrp * detail::linspace_at(0.02, 0.985, n_rho, j));
            const double ea = (rho + 1 / rho) / 2, eb = (rho - 1 / rho) / 2;
            double M = 0;
            for (std::size_t a = 0; a < n_ang; ++a) {
                const double re_v = (center - lk[k].real()) + half * ea * cphi[a];
                const double im_v = half * eb * sphi[a] - lk[k].imag();
                const double e = std::exp(-re_v), c = std::cos(im_v / 2);
                const double f = 1 / std::sqrt((1 - e) * (1 - e) + 4 * e * c * c);
                M = std::max(M, std::isfinite(f) ? f : std::numeric_limits<double>::infinity());
            }
            rho_out[k * n_rho + j] = rho;
            m_out[k * n_rho + j] = M;
        }
    }
}

/// df1 = sum w lambda/(lambda + kappa) and df2 = sum w (lambda/(lambda + kappa))^2 by the stable
/// direct formula with pairwise summation (blocks of 128 summed in 8 lanes, then halves added
/// recursively, as numpy does): rounding ~eps log d, the reference the compression is checked
/// against (the SIMD-lane sums of spectrum.hpp drift by ~d eps at large d).  `w` may be null.
template <class T>
inline std::array<T, 2> df12_pairwise(const double* lam, const double* w, std::size_t n, T kappa) noexcept {
    if (n > 128) {
        const std::size_t h = n / 2 - (n / 2) % 8;
        const std::array<T, 2> a = df12_pairwise(lam, w, h, kappa);
        const std::array<T, 2> b = df12_pairwise(lam + h, w ? w + h : nullptr, n - h, kappa);
        return {a[0] + b[0], a[1] + b[1]};
    }
    std::array<T, 8> s1{}, s2{};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (std::size_t l = 0; l < 8; ++l) {
            const T f = lam[i + l] / (lam[i + l] + kappa);
            const T wf = w ? w[i + l] * f : f;
            s1[l] += wf;
            s2[l] += wf * f;
        }
    T r1 = ((s1[0] + s1[1]) + (s1[2] + s1[3])) + ((s1[4] + s1[5]) + (s1[6] + s1[7]));
    T r2 = ((s2[0] + s2[1]) + (s2[2] + s2[3])) + ((s2[4] + s2[5]) + (s2[6] + s2[7]));
    for (; i < n; ++i) {
        const T f = lam[i] / (lam[i] + kappa);
        const T wf = w ? w[i] * f : f;
        r1 += wf;
        r2 += wf * f;
    }
    return {r1, r2};
}

/// Jacobi matrices of n-node Gauss rules of many groups at once: group g is the points
/// [starts[g], starts[g + 1]) (the last runs to the end) with local coordinates y in [-1, 1] and
/// weights w; Lanczos from sqrt(w / mass) with one modified Gram-Schmidt pass against every
/// earlier vector (n is small and the groups narrow).  Outputs alpha (G, n), beta (G, n - 1) and
/// the masses (G), row-major; a zero beta (breakdown) leaves the next vector zero.
inline void segment_jacobi(const double* y, const double* w, std::size_t size, const std::int64_t* starts, std::size_t G,
                           int n, double* alpha, double* beta, double* mass) {
    std::vector<double> Q, v;
    for (std::size_t g = 0; g < G; ++g) {
        const std::size_t a = static_cast<std::size_t>(starts[g]);
        const std::size_t b = g + 1 < G ? static_cast<std::size_t>(starts[g + 1]) : size;
        const std::size_t len = b - a;
        double m = 0;
        for (std::size_t i = a; i < b; ++i) m += w[i];
        mass[g] = m;
        Q.assign(static_cast<std::size_t>(n) * len, 0.0);
        v.assign(len, 0.0);
        for (std::size_t i = 0; i < len; ++i) Q[i] = std::sqrt(w[a + i] / m);
        for (int j = 0; j < n; ++j) {
            const double* qj = Q.data() + static_cast<std::size_t>(j) * len;
            double al = 0;
            for (std::size_t i = 0; i < len; ++i) {
                v[i] = y[a + i] * qj[i];
                al += qj[i] * v[i];
            }
            alpha[g * n + j] = al;
            for (int k = 0; k <= j; ++k) {
                const double* qk = Q.data() + static_cast<std::size_t>(k) * len;
                double c = 0;
                for (std::size_t i = 0; i < len; ++i) c += qk[i] * v[i];
                for (std::size_t i = 0; i < len; ++i) v[i] -= c * qk[i];
            }
            if (j + 1 < n) {
                double nb = 0;
                for (std::size_t i = 0; i < len; ++i) nb += v[i] * v[i];
                nb = std::sqrt(nb);
                beta[g * (n - 1) + j] = nb;
                double* qn = Q.data() + static_cast<std::size_t>(j + 1) * len;
                const double inv = nb > 0 ? 1 / nb : 1.0;
                for (std::size_t i = 0; i < len; ++i) qn[i] = v[i] * inv;
            }
        }
    }
}

}  // namespace lindiff
