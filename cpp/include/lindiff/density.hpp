// lindiff kernel: the deterministic-equivalent (DE) spectral measure of C = X X^T / N on the real
// axis: its support, density, Stieltjes transform, and a Gauss-type quadrature rule.
//
// Parametrisation (Silverstein-Choi).  The fixed point z = kappa (1 - df1(kappa) / N) at
// z = -s - i0 (s an eigenvalue of C) has kappa = x + i y with, for y != 0,
//     Im z = y (1 - g(x, y^2) / N) = 0,   g(x, Y) = sum_nu w_nu lambda_nu^2 / ((lambda_nu + x)^2 + Y).
// g is decreasing in Y, so for every real x with df2(x) = g(x, 0) > N there is exactly one
// Y = y^2 > 0 (the support region), and y = 0 elsewhere.  Then, with D = |lambda + kappa|^2,
//     s(x)        = -x + (1/N) sum w lambda (x (lambda + x) + Y) / D
//     rho(s)      = y sum w lambda / D / (pi s d)          (eigenvalues of C)
//     rho_Sigma(s) = y sum w lambda^2 / D / (pi s d)       (weighted by v^T Sigma v)
//     rho_Sinv(s) = y sum w / D / (pi s d)                 (weighted by v^T Sigma^-1 v)
//     ds/dx       = -(2/N) (Y P2 + Q^2 / P2),  P2 = sum w lambda^2 / D^2,  Q = sum w lambda^2 (lambda + x) / D^2
// (outside the support ds/dx = -(1 - df2(x)/N)): s(x) is strictly decreasing on the whole real
// line, a bijection onto R; each support interval of s is the image of one x-interval whose ends
// are roots of df2(x) = N.  df2 is convex between consecutive poles x = -lambda, so each gap
// between two poles holds 0 or 2 roots.  In x the integrand rho(s(x)) |s'(x)| is
// sqrt((x - a)(b - x)) times a function analytic on [a, b] (Y is analytic with simple zeros at the
// ends), so Gauss-Chebyshev quadrature of the second kind per x-interval converges geometrically,
// with the square-root edges built in.  Nothing here touches complex kappa continuation, so no
// branch can be lost near the real axis.
#pragma once

#include <algorithm>
#include <numbers>
#include <vector>

#include "contour.hpp"

namespace lindiff {

/// The spectrum with equal eigenvalues merged, sorted descending, and sum w lambda^2.
struct DistinctSpectrum {
    std::vector<double> lam, w;
    double d = 0, trace = 0, s2 = 0, sum_inv = 0;

    explicit DistinctSpectrum(const SpectrumView& s) {
        std::vector<std::pair<double, double>> lw(s.size());
        for (std::size_t i = 0; i < s.size(); ++i) lw[i] = {s.eigenvalues[i], s.weighted() ? s.weights[i] : 1.0};
        std::sort(lw.begin(), lw.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
        for (const auto& [l, wi] : lw) {
            if (!lam.empty() && lam.back() == l) {
                w.back() += wi;
            } else {
                lam.push_back(l);
                w.push_back(wi);
            }
            d += wi;
            trace += wi * l;
            s2 += wi * l * l;
            sum_inv += wi / l;
        }
    }
    [[nodiscard]] std::size_t size() const noexcept { return lam.size(); }
    /// df2(x) = sum w lambda^2 / (lambda + x)^2 at real x.
    [[nodiscard]] double df2(double x) const noexcept {
        double a = 0;
        for (std::size_t i = 0; i < lam.size(); ++i) {
            const double u = lam[i] / (lam[i] + x);
            a += w[i] * u * u;
        }
        return a;
    }
    /// d df2 / dx = -2 sum w lambda^2 / (lambda + x)^3.
    [[nodiscard]] double df2_prime(double x) const noexcept {
        double a = 0;
        for (std::size_t i = 0; i < lam.size(); ++i) {
            const double u = lam[i] / (lam[i] + x);
            a += w[i] * u * u / (lam[i] + x);
        }
        return -2.0 * a;
    }
};

/// One point of the real-axis parametrisation.
struct RealAxisPoint {
    double x = 0, y = 0, s = 0, ds_dx = 0;
    double rho = 0, rho_sigma = 0, rho_sinv = 0;  // densities of the three measures at s
    cplx stieltjes{0, 0};                          // m(s + i0) = int drho(u) / (u - s - i0) (atom included)
};

/// The support of the DE measure: x-intervals [xa, xb] (ascending) and their s-images [s(xb), s(xa)].
struct DeSupport {
    std::vector<double> xa, xb, s_lo, s_hi;  // interval k: x in [xa[k], xb[k]] <-> s in [s_lo[k], s_hi[k]]
};

namespace detail {

/// Bisection for the root of a monotone f on (lo, hi); `increasing` says which way f goes.
template <class F>
inline double monotone_root(F&& f, double lo, double hi, bool increasing) {
    for (int it = 0; it < 2000; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) break;
        if ((f(mid) > 0) == increasing) hi = mid; else lo = mid;
    }
    return 0.5 * (lo + hi);
}

/// Y = y^2 >= 0 with g(x, Y) = N where df2(x) > N.  1/g is concave and increasing in Y (a harmonic
/// sum of linear functions), so Newton on 1/g - 1/N from Y = 0 climbs monotonically to the root.
inline double solve_y2(const DistinctSpectrum& ds, double N, double x) {
    // start at Y = 0, or (x on a pole, g(x, 0) = inf) at half the pole term's own root: g(Y) > N there
    double Y = 0;
    for (std::size_t i = 0; i < ds.size(); ++i)
        if (ds.lam[i] + x == 0.0) Y += 0.5 * ds.w[i] * ds.lam[i] * ds.lam[i] / N;
    for (int it = 0; it < 500; ++it) {
        double g = 0, gp = 0;
        for (std::size_t i = 0; i < ds.size(); ++i) {
            const double a = ds.lam[i] + x;
            const double t = ds.w[i] * ds.lam[i] * ds.lam[i] / (a * a + Y);
            g += t;
            gp += t / (a * a + Y);
        }
        // h = 1/g - 1/N, h' = gp / g^2:  step = -h / h' = (g / gp) (g / N - 1)
        const double step = (g / gp) * (g / N - 1.0);
        if (!(step > 0)) break;
        const double next = Y + step;
        if (!(next > Y) || step <= 4e-16 * next) {
            Y = next;
            break;
        }
        Y = next;
    }
    return Y;
}

/// Outside the support (df2(x) <= N, kappa = x real): s = -x (1 - df1(x)/N), no density, a real
/// Stieltjes transform; every sum in the bounded form lambda/(lambda + x), so no |x| overflows.
inline RealAxisPoint real_kappa_point(const DistinctSpectrum& ds, double N, double x, double df2x) {
    RealAxisPoint p;
    p.x = x;
    double df1 = 0;
    for (std::size_t i = 0; i < ds.size(); ++i) df1 += ds.w[i] * (ds.lam[i] / (ds.lam[i] + x));
    p.s = -x * (1.0 - df1 / N);
    p.ds_dx = -(1.0 - df2x / N);
    if (p.s != 0.0) {
        p.stieltjes = cplx(-(ds.d - df1) / (p.s * ds.d), 0.0);
    } else if (N > ds.d * (1 + 1e-12)) {  // s = 0 outside the support: (1/d) Tr C^-1 = S1(0) / (d (1 - d/N))
        p.stieltjes = cplx(ds.sum_inv / (ds.d * (1.0 - ds.d / N)), 0.0);
    } else {  // N < d: the atom at 0 (limit s -> 0+); N = d: the s^-1/2 hard edge, where rho -> inf too
        p.stieltjes = cplx(N < ds.d ? -INFINITY : INFINITY, 0.0);
        if (N >= ds.d) p.rho = p.rho_sigma = p.rho_sinv = INFINITY;
    }
    return p;
}

}  // namespace detail

/// s(x), ds/dx, the densities and the Stieltjes transform at real x (kappa = x + i y).
inline RealAxisPoint real_axis_point(const DistinctSpectrum& ds, double N, double x) {
    RealAxisPoint p;
    p.x = x;
    const double df2x = ds.df2(x);
    if (!(df2x > N)) return detail::real_kappa_point(ds, N, x, df2x);
    const double Y = detail::solve_y2(ds, N, x);
    double s_num = 0, s_lam = 0, s_lam2 = 0, s_inv = 0, p2 = 0, q = 0, re_df1 = 0;
    for (std::size_t i = 0; i < ds.size(); ++i) {
        const double l = ds.lam[i], wi = ds.w[i], a = l + x;
        const double D = a * a + Y, wl = wi * l;
        s_num += wl * (x * a + Y) / D;
        s_lam += wl / D;
        s_lam2 += wl * l / D;
        s_inv += wi / D;
        re_df1 += wl * a / D;
        p2 += wl * l / (D * D);
        q += wl * l * a / (D * D);
    }
    p.y = std::sqrt(Y);
    p.s = -x + s_num / N;
    p.ds_dx = -(2.0 / N) * (Y * p2 + q * q / p2);
    const double f = p.y / (std::numbers::pi * p.s * ds.d);
    p.rho = f * s_lam;
    p.rho_sigma = f * s_lam2;
    p.rho_sinv = f * s_inv;
    // m(s + i0) = G(-s + i0) = -(d - df1(kappa)) / (s d) with Im > 0 (the conjugate branch of G)
    p.stieltjes = cplx(-(ds.d - re_df1) / (p.s * ds.d), std::numbers::pi * p.rho);
    return p;
}

/// The x-intervals of the support (roots of df2(x) = N) and their images in s.
inline DeSupport de_support(const DistinctSpectrum& ds, double N) {
    const std::size_t m = ds.size();
    const double reach = std::sqrt(ds.s2 / N);  // |lambda + x| > reach  =>  df2(x) < N
    auto f = [&](double x) { return ds.df2(x) - N; };
    std::vector<double> roots;  // ascending
    roots.push_back(detail::monotone_root(f, -ds.lam[0] - reach, -ds.lam[0], true));
    for (std::size_t i = 0; i + 1 < m; ++i) {
        const double A = ds.w[i] * ds.lam[i] * ds.lam[i], B = ds.w[i + 1] * ds.lam[i + 1] * ds.lam[i + 1];
        const double gap = ds.lam[i] - ds.lam[i + 1];
        const double two_term_min = std::pow(std::cbrt(A) + std::cbrt(B), 3) / (gap * gap);
        if (two_term_min > N) continue;  // df2 > N on the whole gap between the two poles
        const double lo = -ds.lam[i], hi = -ds.lam[i + 1];
        const double xmin = detail::monotone_root([&](double x) { return ds.df2_prime(x); }, lo, hi, true);
        if (!(ds.df2(xmin) < N)) continue;
        roots.push_back(detail::monotone_root(f, lo, xmin, false));
        roots.push_back(detail::monotone_root(f, xmin, hi, true));
    }
    roots.push_back(detail::monotone_root(f, -ds.lam[m - 1], -ds.lam[m - 1] + reach, false));
    DeSupport sup;
    for (std::size_t k = 0; k + 1 < roots.size(); k += 2) {
        sup.xa.push_back(roots[k]);
        sup.xb.push_back(roots[k + 1]);
        sup.s_hi.push_back(real_axis_point(ds, N, roots[k]).s);
        sup.s_lo.push_back(real_axis_point(ds, N, roots[k + 1]).s);
    }
    return sup;
}

/// x with s(x) = s_target (s is strictly decreasing in x on the real line): bracketed Newton.
inline RealAxisPoint real_axis_at_s(const DistinctSpectrum& ds, double N, const DeSupport& sup, double s_target) {
    // bracket [x1, x2] with s(x1) >= s_target >= s(x2): the nearest support breakpoints (x ascending,
    // s descending), else bounds beyond the ends (s(x) >= -x left of the support; s(x) <= -x + Tr/N right)
    double x1 = -s_target, x2 = std::max(sup.xb.back(), -s_target + ds.trace / N);
    for (std::size_t k = 0; k < 2 * sup.xa.size(); ++k) {
        const double xk = k % 2 ? sup.xb[k / 2] : sup.xa[k / 2], sk = k % 2 ? sup.s_lo[k / 2] : sup.s_hi[k / 2];
        if (sk < s_target) {
            x2 = xk;
            break;
        }
        x1 = xk;
    }
    RealAxisPoint p = real_axis_point(ds, N, 0.5 * (x1 + x2));
    for (int it = 0; it < 200; ++it) {
        if (p.s == s_target) break;
        if (p.s > s_target) x1 = p.x; else x2 = p.x;
        double xn = p.x - (p.s - s_target) / p.ds_dx;
        if (!(xn > x1 && xn < x2)) xn = 0.5 * (x1 + x2);
        if (!(xn > x1 && xn < x2) || std::abs(xn - p.x) <= 2e-16 * std::abs(xn)) break;
        p = real_axis_point(ds, N, xn);
    }
    return p;
}

namespace detail {

/// Gauss-Chebyshev (second kind) rule with n nodes on the x-interval [a, b] of the support,
/// appended to `out` (real nodes s_j, real weights).
inline void append_interval_rule(const DistinctSpectrum& ds, double N, double a, double b, int n, DeMeasure& out) {
    const std::size_t j0 = out.nodes.size();
    out.nodes.resize(j0 + n);
    out.w_rho.resize(j0 + n);
    out.w_sigma.resize(j0 + n);
    out.w_sinv.resize(j0 + n);
    const double half = 0.5 * (b - a), mid = 0.5 * (a + b), h = std::numbers::pi / (n + 1);
#pragma omp parallel for schedule(static) if (static_cast<double>(n) * ds.size() > 2e5)
    for (int j = 1; j <= n; ++j) {
        const double th = j * h;
        const RealAxisPoint p = real_axis_point(ds, N, mid + half * std::cos(th));
        const double wq = half * h * std::sin(th) * std::abs(p.ds_dx);
        out.nodes[j0 + j - 1] = cplx(p.s, 0);
        out.w_rho[j0 + j - 1] = cplx(wq * p.rho, 0);
        out.w_sigma[j0 + j - 1] = cplx(wq * p.rho_sigma, 0);
        out.w_sinv[j0 + j - 1] = cplx(wq * p.rho_sinv, 0);
    }
}

/// Masses of the three measures and the mean of rho over the nodes from index j0 on.
inline std::array<double, 4> rule_moments(const DeMeasure& mu, std::size_t j0) {
    std::array<double, 4> m{0, 0, 0, 0};
    for (std::size_t j = j0; j < mu.nodes.size(); ++j) {
        m[0] += mu.w_rho[j].real();
        m[1] += mu.w_sigma[j].real();
        m[2] += mu.w_sinv[j].real();
        m[3] += mu.w_rho[j].real() * mu.nodes[j].real();
    }
    return m;
}

}  // namespace detail

/// Quadrature rule of the DE measures of C on the real axis: per support interval a
/// Gauss-Chebyshev rule in x, doubled (n + 1 = m_min/2 ... ) until the interval's masses and mean
/// change by less than tol / 10 of the totals; then the same global checks as the contour rule
/// (sum rules, Stieltjes transforms at real test points against the real fixed point).
/// `opt.m_max` caps the nodes per interval.
inline DeMeasure de_measure_real(const SpectrumView& s, double N, const MeasureOptions& opt = {}) {
    check_rule_args(s, N, opt);
    const DistinctSpectrum ds(s);
    DeMeasure out = detail::measure_with_atoms(s, N);
    const DeSupport sup = de_support(ds, N);
    out.s_lo = sup.s_lo.back();
    out.s_hi = sup.s_hi.front();
    const std::array<double, 4> scale{out.mass_rho, out.mass_sigma, out.mass_sinv, out.mean_rho};
    bool all_ok = true;
    for (std::size_t k = 0; k < sup.xa.size(); ++k) {
        std::array<double, 4> prev{INFINITY, INFINITY, INFINITY, INFINITY};  // no level yet
        const std::size_t j0 = out.nodes.size();
        bool ok = false;
        for (int n1 = std::max(8, opt.m_min / 2); n1 <= opt.m_max; n1 *= 2) {
            for (auto* v : {&out.nodes, &out.w_rho, &out.w_sigma, &out.w_sinv}) v->resize(j0);
            detail::append_interval_rule(ds, N, sup.xa[k], sup.xb[k], n1 - 1, out);
            const std::array<double, 4> cur = detail::rule_moments(out, j0);
            double diff = 0;
            for (int i = 0; i < 4; ++i) diff = std::max(diff, std::abs(cur[i] - prev[i]) / scale[i]);  // inf at level 1
            prev = cur;
            if (diff <= 0.1 * opt.tol) {
                ok = true;
                break;
            }
        }
        all_ok = all_ok && ok;
    }
    out.error = detail::measure_error(detail::measure_references(s, N, out), out);
    out.converged = all_ok && out.error <= opt.tol;
    out.message = out.converged ? "converged" : (all_ok ? "checks above tol" : "node limit reached");
    out.intervals = sup.s_lo.size();
    return out;
}

}  // namespace lindiff
