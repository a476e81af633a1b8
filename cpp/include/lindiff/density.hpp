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
// ends), so in theta with x = mid + half cos theta the integrand is analytic on [0, pi] (the
// edges become zeros of sin theta) and a composite Gauss rule in theta converges geometrically;
// it is adaptive because near the top of a bulk interval the nearly isolated eigenvalues put
// complex singularities of Y(x) close to the real x-axis (x ~ -lambda +- i y with y small), which
// a global rule resolves only with very many nodes (d = 196608, k = 2: > 65536 in one interval).
// Spectral sums are direct or, for large spectra, through a SpectralTree (spectral_tree.hpp).
// Nothing here touches complex kappa continuation, so no branch can be lost near the real axis.
#pragma once

#include <algorithm>
#include <functional>
#include <limits>
#include <numbers>
#include <vector>

#include "contour.hpp"

namespace lindiff {

/// The spectrum with equal eigenvalues merged, sorted descending, and sum w lambda^2.  Spectral
/// sums go through `sums`: direct below `tree_from` distinct eigenvalues, else through a
/// SpectralTree (O(p log d) a sum, relative error ~1e-16 of the sum of |terms|).
struct DistinctSpectrum {
    std::vector<double> lam, w;
    double d = 0, trace = 0, s2 = 0, sum_inv = 0;
    SpectralTree tree;

    explicit DistinctSpectrum(const SpectrumView& s, std::size_t tree_from = SpectralTree::TREE_FROM) {
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
        if (lam.size() >= tree_from) tree = SpectralTree(lam, w);
    }
    DistinctSpectrum(const DistinctSpectrum&) = delete;  // the tree points into lam and w
    DistinctSpectrum& operator=(const DistinctSpectrum&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return lam.size(); }

    /// The K sums sum_i term(lambda_i, w_i) of a term whose only poles are lambda = -x +- i sqrt(Y).
    template <std::size_t K, class Term>
    [[nodiscard]] std::array<double, K> sums(double x, double Y, Term&& term) const {
        if (tree.empty()) {
            std::array<double, K> a{};
            for (std::size_t i = 0; i < lam.size(); ++i) term(lam[i], w[i], a);
            return a;
        }
        return tree.template sum<K>(std::log(cplx(-x, std::sqrt(Y))), term);
    }
    /// df2(x) = sum w lambda^2 / (lambda + x)^2 at real x.
    [[nodiscard]] double df2(double x) const noexcept {
        return sums<1>(x, 0.0, [x](double l, double wi, std::array<double, 1>& a) {
            const double u = l / (l + x);
            a[0] += wi * u * u;
        })[0];
    }
    /// d df2 / dx = -2 sum w lambda^2 / (lambda + x)^3.
    [[nodiscard]] double df2_prime(double x) const noexcept {
        return -2.0 * sums<1>(x, 0.0, [x](double l, double wi, std::array<double, 1>& a) {
            const double u = l / (l + x);
            a[0] += wi * u * u / (l + x);
        })[0];
    }
    /// The weight of the eigenvalue -x (0 when -x is not one).
    [[nodiscard]] double weight_at(double lambda) const noexcept {
        const auto it = std::lower_bound(lam.begin(), lam.end(), lambda, std::greater<>());
        return it != lam.end() && *it == lambda ? w[static_cast<std::size_t>(it - lam.begin())] : 0.0;
    }
};

/// One point of the real-axis parametrisation.
struct RealAxisPoint {
    double x = 0, y = 0, s = 0, ds_dx = 0;
    double rho = 0, rho_sigma = 0, rho_sinv = 0;  // densities of the three measures at s
    cplx stieltjes{0, 0};                          // m(s + i0) = int drho(u) / (u - s - i0) (atom included)
    double cond_y2 = 0;  // condition number of Y = y^2 as the root of g(x, Y) = N: N / (Y dg/dY)
    double dy2_dx = 0;   // dY/dx along the support: -(dg/dx) / (dg/dY)
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
    const double w_pole = ds.weight_at(-x);
    double Y = 0.5 * w_pole * x * x / N;
    for (int it = 0; it < 500; ++it) {
        const auto [g, gp] = ds.sums<2>(x, Y, [x, Y](double l, double wi, std::array<double, 2>& a) {
            const double b = l + x;
            const double t = wi * l * l / (b * b + Y);
            a[0] += t;
            a[1] += t / (b * b + Y);
        });
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

/// The point s = 0 outside the continuous support: for N > d the Stieltjes transform
/// (1/d) Tr C^-1 = S1(0) / (d (1 - d/N)); for N < d the atom at 0 (the limit s -> 0+ is -inf);
/// for N = d the s^-1/2 hard edge, where rho -> inf too.
inline void set_at_zero(const DistinctSpectrum& ds, double N, RealAxisPoint& p) {
    p.s = 0.0;
    if (N > ds.d * (1 + 1e-12)) {
        p.stieltjes = cplx(ds.sum_inv / (ds.d * (1.0 - ds.d / N)), 0.0);
    } else {
        p.stieltjes = cplx(N < ds.d ? -INFINITY : INFINITY, 0.0);
        if (N >= ds.d) p.rho = p.rho_sigma = p.rho_sinv = INFINITY;
    }
}

/// The seven sums of a support point (D = (lambda + x)^2 + Y): sum w lambda (x (lambda + x) + Y) / D,
/// sum w lambda / D, sum w lambda^2 / D, sum w / D, sum w lambda (lambda + x) / D,
/// P2 = sum w lambda^2 / D^2 and Q = sum w lambda^2 (lambda + x) / D^2.
inline std::array<double, 7> point_sums(const DistinctSpectrum& ds, double x, double Y) {
    return ds.sums<7>(x, Y, [x, Y](double l, double wi, std::array<double, 7>& a) {
        const double b = l + x;
        const double D = b * b + Y, wl = wi * l;
        a[0] += wl * (x * b + Y) / D;
        a[1] += wl / D;
        a[2] += wl * l / D;
        a[3] += wi / D;
        a[4] += wl * b / D;
        a[5] += wl * l / (D * D);
        a[6] += wl * l * b / (D * D);
    });
}

/// Outside the support (df2(x) <= N, kappa = x real): s = -x (1 - df1(x)/N), no density, a real
/// Stieltjes transform; every sum in the bounded form lambda/(lambda + x), so no |x| overflows.
inline RealAxisPoint real_kappa_point(const DistinctSpectrum& ds, double N, double x, double df2x) {
    RealAxisPoint p;
    p.x = x;
    const double df1 = ds.sums<1>(x, 0.0, [x](double l, double wi, std::array<double, 1>& a) {
        a[0] += wi * (l / (l + x));
    })[0];
    p.s = -x * (1.0 - df1 / N);
    p.ds_dx = -(1.0 - df2x / N);
    if (p.s != 0.0) {
        p.stieltjes = cplx(-(ds.d - df1) / (p.s * ds.d), 0.0);
    } else {
        set_at_zero(ds, N, p);
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
    const auto [s_num, s_lam, s_lam2, s_inv, re_df1, p2, q] = detail::point_sums(ds, x, Y);
    p.y = std::sqrt(Y);
    p.cond_y2 = N / (Y * p2);  // p2 = -dg/dY at the root
    p.dy2_dx = -2.0 * q / p2;  // dg/dx = -2 q
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
    // s = 0 left of the support: the closed forms, not -(d - df1) / (s d) at the rounding error of s
    if (s_target == 0.0 && p.y == 0.0 && p.s != 0.0) detail::set_at_zero(ds, N, p);
    return p;
}

namespace detail {

/// The n-point Gauss-Legendre rule on [-1, 1] (Newton on the three-term recurrence).
template <int n>
struct GaussLegendre {
    std::array<double, n> x{}, w{};
    GaussLegendre() {
        for (int i = 0; i < (n + 1) / 2; ++i) {
            double t = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5)), dp = 0;
            for (int it = 0; it < 100; ++it) {
                double p0 = 1, p1 = t;
                for (int k = 2; k <= n; ++k) {
                    const double p2 = ((2 * k - 1) * t * p1 - (k - 1) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n * (t * p1 - p0) / (t * t - 1);
                const double dt = p1 / dp;
                t -= dt;
                if (std::abs(dt) <= 1e-16) break;
            }
            x[i] = -t;
            x[n - 1 - i] = t;
            w[i] = w[n - 1 - i] = 2.0 / ((1 - t * t) * dp * dp);
        }
    }
};

/// One panel [lo, hi] of theta (x = mid + half cos theta) of a support interval: its Gauss-Legendre
/// points and the integrals of the three densities and of s rho over it.
struct ThetaPanel {
    static constexpr int G = 16;
    double lo = 0, hi = 0;
    std::array<RealAxisPoint, G> pts;
    std::array<double, G> wq{};          // quadrature weight of each point (Jacobian included)
    std::array<double, 4> integral{};    // rho, rho_Sigma, rho_Sinv masses and the mean of rho
    std::array<double, 4> noise{};       // their rounding-noise level, from the conditioning of Y
};

inline const GaussLegendre<ThetaPanel::G>& theta_rule() {
    static const GaussLegendre<ThetaPanel::G> gl;
    return gl;
}

/// Evaluates the points of every panel in `panels` (independent points: bitwise the same on any
/// thread count), then their weights and integrals.
inline void evaluate_panels(const DistinctSpectrum& ds, double N, double mid, double half, bool x_noise,
                            std::vector<ThetaPanel>& panels) {
    constexpr int G = ThetaPanel::G;
    const auto& gl = theta_rule();
    const auto n = static_cast<std::ptrdiff_t>(panels.size()) * G;
    [[maybe_unused]] const double cost = static_cast<double>(n) * (ds.tree.empty() ? static_cast<double>(ds.size()) : 2000.0);
#pragma omp parallel for schedule(dynamic, 4) if (cost > 2e5)
    for (std::ptrdiff_t k = 0; k < n; ++k) {
        ThetaPanel& P = panels[static_cast<std::size_t>(k / G)];
        const int j = static_cast<int>(k % G);
        const double th = 0.5 * (P.lo + P.hi) + 0.5 * (P.hi - P.lo) * gl.x[j];
        P.pts[j] = real_axis_point(ds, N, mid + half * std::cos(th));
        P.wq[j] = 0.5 * (P.hi - P.lo) * gl.w[j] * half * std::sin(th) * std::abs(P.pts[j].ds_dx);
    }
    // noise of a point: the rounding of Y as a root (cond_y2) and of x = mid + half cos theta itself
    // (dx ~ eps (|mid| + half)), which near an edge, Y ~ (b - x), is a large relative error of Y
    constexpr double eps = std::numeric_limits<double>::epsilon();
    const double dx = eps * (std::abs(mid) + half);
    for (ThetaPanel& P : panels) {
        P.integral = P.noise = {0, 0, 0, 0};
        for (int j = 0; j < G; ++j) {
            const RealAxisPoint& q = P.pts[j];
            const std::array<double, 4> f{P.wq[j] * q.rho, P.wq[j] * q.rho_sigma, P.wq[j] * q.rho_sinv, P.wq[j] * q.rho * q.s};
            const double rel = 8 * (eps * (1 + q.cond_y2) + (x_noise ? std::abs(q.dy2_dx) * dx / (q.y * q.y) : 0.0));
            for (int c = 0; c < 4; ++c) {
                P.integral[c] += f[c];
                P.noise[c] += rel * std::abs(f[c]);
            }
        }
    }
}

/// Appends a panel's points to the rule.
inline void append_panel(const ThetaPanel& P, DeMeasure& out) {
    for (int j = 0; j < ThetaPanel::G; ++j) {
        const RealAxisPoint& q = P.pts[j];
        out.nodes.emplace_back(q.s, 0.0);
        out.w_rho.emplace_back(P.wq[j] * q.rho, 0.0);
        out.w_sigma.emplace_back(P.wq[j] * q.rho_sigma, 0.0);
        out.w_sinv.emplace_back(P.wq[j] * q.rho_sinv, 0.0);
    }
}

/// A panel with its two halves evaluated: the halves are the rule, `err` the error estimate of the
/// panel's own rule (|panel - halves| of the masses and the mean, relative to the totals, less
/// the rounding noise of the three integrals: a difference within the noise is no error to refine).
struct TestedPanel {
    ThetaPanel halves[2];
    double err = 0;
};

/// Evaluates the halves of every panel and its error estimate.
inline std::vector<TestedPanel> test_panels(const DistinctSpectrum& ds, double N, double mid, double half, bool x_noise,
                                            const std::vector<ThetaPanel>& panels, const std::array<double, 4>& scale) {
    std::vector<ThetaPanel> halves(2 * panels.size());
    for (std::size_t i = 0; i < panels.size(); ++i) {
        const double m = 0.5 * (panels[i].lo + panels[i].hi);
        halves[2 * i].lo = panels[i].lo;
        halves[2 * i].hi = halves[2 * i + 1].lo = m;
        halves[2 * i + 1].hi = panels[i].hi;
    }
    evaluate_panels(ds, N, mid, half, x_noise, halves);
    std::vector<TestedPanel> out(panels.size());
    for (std::size_t i = 0; i < panels.size(); ++i) {
        out[i].halves[0] = halves[2 * i];
        out[i].halves[1] = halves[2 * i + 1];
        for (int q = 0; q < 4; ++q) {
            const double diff = panels[i].integral[q] - halves[2 * i].integral[q] - halves[2 * i + 1].integral[q];
            const double noise = panels[i].noise[q] + halves[2 * i].noise[q] + halves[2 * i + 1].noise[q];
            out[i].err = std::max(out[i].err, std::max(std::abs(diff) - noise, 0.0) / scale[q]);
        }
    }
    return out;
}

/// The rule of one support interval x in [a, b], in theta in (0, pi) with x = mid + half cos theta
/// (the square-root edges become analytic zeros of sin theta): composite 16-point Gauss-Legendre,
/// globally adaptive.  Each panel's error is estimated against its two halves (whose points are
/// the rule); while the sum of the estimates exceeds tol/30 (masses and mean relative to the
/// totals), the panels with the largest estimates are split, as many as it takes for the rest to
/// sum below tol/60 (split panels are evaluated in one parallel loop).  Where Y = y^2 is small
/// (the edges, and between the nearly isolated eigenvalues at the top of a bulk) its rounding,
/// eps N / (Y dg/dY) relative, does not shrink as panels do: the estimate discounts it
/// (TestedPanel).  With `x_noise` it also discounts the rounding of x = mid + half cos theta
/// as seen by Y (|dY/dx| eps (|mid| + half) / Y): that lets the refinement stop at the
/// near-gaps of a large bulk (y^2 with a near-double zero: sqrt branch points next to the real
/// axis; without it d = 1e5, k = 2 passes 54,000 nodes in one interval) but near a hard edge it
/// hides real error, so de_measure_real rebuilds without it when its checks miss tol.  Returns
/// false when the rule would pass `max_nodes` before the estimate is below tol/30.
inline bool append_interval_rule(const DistinctSpectrum& ds, double N, double a, double b, int first_nodes, int max_nodes,
                                 double tol, bool x_noise, const std::array<double, 4>& scale, DeMeasure& out) {
    constexpr int G = ThetaPanel::G;
    const double half = 0.5 * (b - a), mid = 0.5 * (a + b);
    const int first = std::max(1, first_nodes / (2 * G));
    std::vector<ThetaPanel> start(first);
    for (int i = 0; i < first; ++i) {
        start[i].lo = std::numbers::pi * i / first;
        start[i].hi = std::numbers::pi * (i + 1) / first;
    }
    evaluate_panels(ds, N, mid, half, x_noise, start);
    std::vector<TestedPanel> panels = test_panels(ds, N, mid, half, x_noise, start, scale);
    std::vector<std::size_t> live(panels.size());  // indices of the panels in the rule (sorted, not moved)
    for (std::size_t i = 0; i < live.size(); ++i) live[i] = i;
    bool ok = false;
    for (;;) {
        std::sort(live.begin(), live.end(), [&](std::size_t p, std::size_t q) { return panels[p].err > panels[q].err; });
        double total = 0;
        for (const std::size_t i : live) total += panels[i].err;
        if (total <= tol / 30) {
            ok = true;
            break;
        }
        std::size_t split = 0;  // the largest `split` estimates go; the rest sum to <= tol / 60
        for (double rest = total; split < live.size() && rest > tol / 60; ++split) rest -= panels[live[split]].err;
        if (static_cast<double>(live.size() + 2 * split) * 2 * G > max_nodes) break;
        std::vector<ThetaPanel> refine;
        for (std::size_t i = 0; i < split; ++i)
            for (const ThetaPanel& h : panels[live[i]].halves) refine.push_back(h);
        std::vector<TestedPanel> fresh = test_panels(ds, N, mid, half, x_noise, refine, scale);
        live.erase(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(split));
        for (TestedPanel& f : fresh) {
            live.push_back(panels.size());
            panels.push_back(std::move(f));
        }
    }
    std::vector<const ThetaPanel*> rule;
    for (const std::size_t i : live)
        for (const ThetaPanel& h : panels[i].halves) rule.push_back(&h);
    std::sort(rule.begin(), rule.end(), [](const ThetaPanel* p, const ThetaPanel* q) { return p->lo < q->lo; });
    for (const ThetaPanel* P : rule) append_panel(*P, out);
    return ok;
}

}  // namespace detail

/// Quadrature rule of the DE measures of C on the real axis: per support interval an adaptive
/// composite Gauss-Legendre rule in theta (x = mid + half cos theta; first level m_min / 32
/// panels, refined until the masses' and mean's error estimate is below tol / 30 of the
/// totals); then the same global checks as the contour rule (sum rules, Stieltjes transforms at
/// real test points against the real fixed point).  `opt.m_max` caps the nodes per interval.
inline DeMeasure de_measure_real(const SpectrumView& s, double N, const MeasureOptions& opt = {}) {
    check_rule_args(s, N, opt);
    const DistinctSpectrum ds(s, opt.tree_from);
    DeMeasure out = detail::measure_with_atoms(s, N);
    const DeSupport sup = de_support(ds, N);
    out.s_lo = sup.s_lo.back();
    out.s_hi = sup.s_hi.front();
    const std::array<double, 4> scale{out.mass_rho, out.mass_sigma, out.mass_sinv, out.mean_rho};
    const detail::MeasureReferences refs = detail::measure_references(s, N, out);
    // First with the x-rounding term in the panels' noise (it stops the refinement at the
    // near-gaps of a bulk's top, d >= 1e5); when the checks then miss tol (near a hard edge,
    // N -> d, that term also hides real error), again with the root's conditioning only.
    bool all_ok = true;
    const DeMeasure empty = out;
    for (const bool x_noise : {true, false}) {
        DeMeasure rule = empty;
        bool ok = true;
        for (std::size_t k = 0; k < sup.xa.size(); ++k)
            ok = detail::append_interval_rule(ds, N, sup.xa[k], sup.xb[k], opt.m_min, opt.m_max, opt.tol, x_noise, scale, rule) && ok;
        rule.error = detail::measure_error(refs, rule);
        if (x_noise || rule.error < out.error) {
            out = std::move(rule);
            all_ok = ok;
        }
        if (out.error <= opt.tol) break;
    }
    out.converged = all_ok && out.error <= opt.tol;
    out.message = out.converged ? "converged" : (all_ok ? "checks above tol" : "node limit reached");
    out.intervals = sup.s_lo.size();
    return out;
}

}  // namespace lindiff
