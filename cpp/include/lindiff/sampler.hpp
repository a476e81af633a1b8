// lindiff kernel: the linear DDPM sampler's per-eigenvalue variance map gamma(s).
//
// For a denoiser that is a function of C (eigenvalue s), w_t(s) = b_t phi_t(s) with
//   phi_t(s) = 1 / m_t(s)                                   (minimiser, eta tau = inf)
//   phi_t(s) = (1 - exp(-2 eta tau m_t(s))) / m_t(s)        (gradient flow from 0)
//   phi_t(s) = (1 - (1 - 2 eta m_t(s))^n) / m_t(s)           (n steps of gradient descent)
// and m_t(s) = a_t^2 s + b_t^2 + c, the sampler u_{t-1} = A_t u_t + sigma_t xi has
//   gamma_T = 1,  gamma_{t-1} = A_t(s)^2 gamma_t + sigma_t^2,  A_t(s) = (1 - beta_t phi_t(s)) / sqrt(alpha_t),
// and gamma(s) = gamma_0.  Real s >= 0 or complex s (for contour integrals).
#pragma once

#include <cmath>
#include <span>
#include <type_traits>

#include "common.hpp"

namespace lindiff {

/// The schedule arrays of length T (index t - 1).
struct ScheduleView {
    std::span<const double> beta, a2, b2, sigma2;  // beta_t, a_t^2, b_t^2, sigma_t^2
    [[nodiscard]] std::size_t T() const noexcept { return beta.size(); }
};

/// How phi_t is formed: minimiser, gradient flow for time eta*tau, or n gradient-descent steps.
struct TrainingTime {
    double eta_tau = INFINITY;  // eta * tau (inf: the minimiser)
    double gd_eta = 0;          // > 0: explicit GD with this step, n = eta_tau / gd_eta steps
};

namespace detail {
inline double one_minus_exp(double y) noexcept { return -std::expm1(y); }  // 1 - e^y, accurate near 0
inline cplx one_minus_exp(cplx y) noexcept {
    // e^y - 1 = expm1(Re y) e^{i Im y} + (e^{i Im y} - 1), with e^{i t} - 1 = -2 sin^2(t/2) + i sin t
    const double t = y.imag(), sh = std::sin(0.5 * t);
    const cplx e(std::cos(t), std::sin(t));
    return -(std::expm1(y.real()) * e + cplx(-2.0 * sh * sh, std::sin(t)));
}
inline double log_one_minus(double x) noexcept { return std::log1p(-x); }
inline cplx log_one_minus(cplx x) noexcept {
    if (std::abs(x) < 1e-4) return -(x + x * x / 2.0 + x * x * x / 3.0 + x * x * x * x / 4.0);
    return std::log(cplx(1) - x);
}
}  // namespace detail

/// phi(m): 1/m (minimiser), (1 - e^{-2 eta tau m}) / m (gradient flow) or
/// (1 - (1 - 2 eta m)^n) / m (n = eta tau / eta GD steps), all without cancellation.
template <class T>
inline T phi_of(T m, const TrainingTime& tt) noexcept {
    if (std::isinf(tt.eta_tau)) return T(1) / m;
    if (tt.gd_eta > 0) {
        const double n = std::round(tt.eta_tau / tt.gd_eta);
        if (m == T(0)) return T(2.0 * n * tt.gd_eta);
        const T x = 2.0 * tt.gd_eta * m;
        if constexpr (std::is_same_v<T, double>) {
            if (x >= 1.0) return (1.0 - std::pow(1.0 - x, n)) / m;  // step beyond the stable range
        }
        return detail::one_minus_exp(n * detail::log_one_minus(x)) / m;
    }
    if (m == T(0)) return T(2.0 * tt.eta_tau);
    return detail::one_minus_exp(-2.0 * tt.eta_tau * m) / m;
}

/// One step of the recurrence at array index k (t = k + 1): gamma_{t-1} from gamma_t = g.
template <class T>
inline T sampler_gamma_step(const ScheduleView& sch, double c, const TrainingTime& tt, std::size_t k, T s,
                            T g) noexcept {
    const T m = sch.a2[k] * s + (sch.b2[k] + c);
    // minimiser: 1 - beta/m = (m - beta)/m, exactly 0 at t = 1, s = 0, c = 0
    const T one_minus = std::isinf(tt.eta_tau) ? (m - sch.beta[k]) / m : T(1) - sch.beta[k] * phi_of(m, tt);
    const T A = one_minus / std::sqrt(1.0 - sch.beta[k]);
    return A * A * g + sch.sigma2[k];
}

/// gamma(s) for one s.
template <class T>
inline T sampler_gamma(const ScheduleView& sch, double c, const TrainingTime& tt, T s) noexcept {
    T g = T(1);
    for (std::size_t k = sch.T(); k-- > 0;) g = sampler_gamma_step(sch, c, tt, k, s, g);
    return g;
}

/// gamma(s_i) for a block of real s, the loop over i innermost so that it vectorises; the same
/// operations per element as sampler_gamma (bitwise equal results).
inline void sampler_gamma_block(const ScheduleView& sch, double c, const TrainingTime& tt, const double* s,
                                double* g, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) g[i] = 1.0;
    if (!std::isinf(tt.eta_tau)) {  // gradient flow / GD: phi_of calls expm1, no vectorisation
        for (std::size_t k = sch.T(); k-- > 0;)
            for (std::size_t i = 0; i < n; ++i) g[i] = sampler_gamma_step(sch, c, tt, k, s[i], g[i]);
        return;
    }
    for (std::size_t k = sch.T(); k-- > 0;) {  // the minimiser branch of sampler_gamma_step, unswitched
        const double a2 = sch.a2[k], z = sch.b2[k] + c, beta = sch.beta[k], r = std::sqrt(1.0 - beta);
        const double s2 = sch.sigma2[k];
        LINDIFF_PRAGMA(omp simd)
        for (std::size_t i = 0; i < n; ++i) {
            const double m = a2 * s[i] + z;
            const double A = ((m - beta) / m) / r;
            g[i] = A * A * g[i] + s2;
        }
    }
}

}  // namespace lindiff
