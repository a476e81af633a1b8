// lindiff kernel: quadrature rules for the deterministic-equivalent spectral measures of C.
//
// The DE theory gives the Stieltjes transforms (z > 0 or complex, R = (C + z)^-1):
//   rho        (1/d) Tr R          = kappa S1 / (z d),      S1 = sum w/(lambda + kappa)
//   rho_Sigma  (1/d) Tr Sigma R    = kappa df1 / (z d)      (= (N/d)(kappa/z - 1))
//   rho_Sinv   (1/d) Tr Sigma^-1 R = kappa sum w/(lambda (lambda + kappa)) / (z d)
// all evaluated as direct sums at kappa (forms derived from the fixed point cancel for N >> d).
// For f analytic near the continuous support [s_lo, s_hi] of a measure mu with Stieltjes
// transform m(w) = int dmu(s)/(s - w) = G(-w),
//   int f dmu_cont = -(1 / 2 pi i) oint f(w) m(w) dw      (counter-clockwise contour).
// The contour is an ellipse in u = ln w around [ln s_lo, ln s_hi] (a Bernstein ellipse, so the
// periodic trapezoidal rule converges geometrically); in ln w the point w = 0, where N < d puts
// atoms, is at -infinity, far outside.  The atoms are returned separately:
//   rho{0} = 1 - N/d, rho_Sigma{0} = (N/d) kappa0, rho_Sinv{0} = (kappa0/d) sum w/(lambda (lambda + kappa0)).
// Sum rules and the Stieltjes transform at real test points check the rule; the number of nodes
// doubles until they hold to `tol`.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <numbers>
#include <vector>

#include "fastmath.hpp"
#include "kappa.hpp"
#include "sampler.hpp"
#include "spectral_tree.hpp"

namespace lindiff {

struct MeasureOptions {
    int m_min = 64;
    int m_max = 16384;
    double tol = 1e-11;        // relative accuracy asked of the sum rules and test transforms
    double height_max = 1.0;   // max |Im ln w| of the contour (radians)
    double rho_max = 3.0;      // max Bernstein parameter
    double edge_factor = 2.0;  // the contour crosses the real axis at s_lo / f and s_hi * f
    std::size_t tree_from = SpectralTree::TREE_FROM;  // real-axis rule: tree sums from this many eigenvalues
};

/// A quadrature rule: int f d(measure) ~= atom * f(0) + sum_j weight_j f(node_j).
struct DeMeasure {
    std::vector<cplx> nodes;                 // points w_j of the s-plane (eigenvalues of C)
    std::vector<cplx> w_rho, w_sigma, w_sinv;  // complex weights of the three measures
    double atom_rho = 0, atom_sigma = 0, atom_sinv = 0;
    double s_lo = 0, s_hi = 0;               // edges of the continuous support
    double kappa0 = 0;
    double mass_rho = 0, mass_sigma = 0, mass_sinv = 0, mean_rho = 0;  // exact totals (atoms incl.)
    double error = NAN;                      // worst relative error of the checks
    int kappa_failures = 0;
    std::size_t intervals = 1;               // support intervals (the real-axis rule resolves gaps)
    bool converged = false;
    std::string message;
};

namespace detail {

/// Root of df2(kappa) = N on (lo, hi) where df2 is monotone (bisection; robust near poles).
inline double df2_root(const SpectrumView& s, double N, double lo, double hi, bool increasing) {
    for (int it = 0; it < 400; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (!(mid > lo && mid < hi)) break;
        const double v = df12(s, mid).df2 - N;
        if ((v > 0) == increasing) hi = mid; else lo = mid;
    }
    return 0.5 * (lo + hi);
}

inline double z_of_kappa(const SpectrumView& s, double N, double k) {
    return k * (1.0 - df12(s, k).df1 / N);
}

}  // namespace detail

namespace detail {
/// The three Stieltjes transforms at z from kappa(z), with direct sums (no cancellation):
/// G = kappa S1 / (z d), H = kappa df1 / (z d), Ginv = kappa sum w / (lambda (lambda + kappa)) / (z d).
template <class T>
inline std::array<T, 3> de_transforms(const SpectrumView& s, T z, T kappa) {
    const SumPair<T> r0 = power_sums<false>(s, kappa);
    const SumPair<T> r1 = power_sums<true>(s, kappa);
    T inv = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double l = s.eigenvalues[i];
        inv += (s.weighted() ? s.weights[i] : 1.0) / (l * (l + kappa));
    }
    const T f = kappa / (z * s.d);
    return {f * r0.first, f * r1.first, f * inv};
}
}  // namespace detail

/// Edges [s_lo, s_hi] of the continuous DE support (the extrema of z(kappa) on the real axis,
/// where df2(kappa*) = N).  Needs N != d (at N = d the support touches 0: a hard edge).
inline std::pair<double, double> de_support_edges(const SpectrumView& s, double N, double k0) {
    const double lmin = s.lambda_min, lmax = s.lambda_max;
    // lower edge: kappa* in (-lambda_min, 0) for N > d, in (0, kappa0) for N < d; df2 decreasing
    const double lo_a = N > s.d ? -lmin : 0.0, lo_b = N > s.d ? 0.0 : k0;
    const double k_lo = detail::df2_root(s, N, lo_a, lo_b, false);
    // upper edge: kappa* in (-lambda_max (1 + sqrt(d/N)), -lambda_max); df2 increasing
    const double k_hi = detail::df2_root(s, N, -lmax * (1.0 + std::sqrt(s.d / N)) - lmax * 1e-12, -lmax, true);
    return {-detail::z_of_kappa(s, N, k_lo), -detail::z_of_kappa(s, N, k_hi)};
}

namespace detail {

/// A rule with its atoms at s = 0, the exact totals the checks compare with, and kappa0.
inline DeMeasure measure_with_atoms(const SpectrumView& s, double N) {
    DeMeasure out;
    const double k0 = kappa0(s, N);
    out.kappa0 = k0;
    double sum_inv = 0, sum_inv_k0 = 0;  // sum w / lambda, sum w / (lambda (lambda + kappa0))
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double w = s.weighted() ? s.weights[i] : 1.0, l = s.eigenvalues[i];
        sum_inv += w / l;
        sum_inv_k0 += w / (l * (l + k0));
    }
    const double d = s.d;
    out.atom_rho = N < d ? 1.0 - N / d : 0.0;
    out.atom_sigma = N < d ? (N / d) * k0 : 0.0;
    out.atom_sinv = N < d ? (k0 / d) * sum_inv_k0 : 0.0;
    out.mass_rho = 1.0;
    out.mass_sigma = s.trace / d;
    out.mass_sinv = sum_inv / d;
    out.mean_rho = s.trace / d;
    return out;
}

/// Worst relative error of a rule's checks: the masses of the three measures, the mean of rho,
/// and the three Stieltjes transforms at z0 in {s_lo, sqrt(s_lo s_hi), s_hi} (real z0 > 0, outside
/// the support) against the real fixed point solved there.
/// The real test points z0 in {s_lo, sqrt(s_lo s_hi), s_hi} and the three transforms there from the
/// real fixed point (solved once per rule, not per refinement level).
struct MeasureReferences {
    double z[3];
    std::array<double, 3> transforms[3];
};

inline MeasureReferences measure_references(const SpectrumView& s, double N, const DeMeasure& mu) {
    MeasureReferences ref{{mu.s_lo, std::sqrt(mu.s_lo * mu.s_hi), mu.s_hi}, {}};
    for (int k = 0; k < 3; ++k) {
        const RootResult<double> r =
            solve_kappa_real_point(s, N, mu.kappa0, ref.z[k], NAN, KappaOptions{1e-15, 300, 0.1}).root;
        ref.transforms[k] = de_transforms<double>(s, ref.z[k], r.x);
    }
    return ref;
}

inline double measure_error(const MeasureReferences& ref, const DeMeasure& mu) {
    const double* ztest = ref.z;
    cplx m_rho = 0, m_sig = 0, m_sinv = 0, mean = 0;
    cplx tg[3] = {0, 0, 0}, th[3] = {0, 0, 0}, tinv[3] = {0, 0, 0};
    for (std::size_t j = 0; j < mu.nodes.size(); ++j) {
        m_rho += mu.w_rho[j];
        m_sig += mu.w_sigma[j];
        m_sinv += mu.w_sinv[j];
        mean += mu.w_rho[j] * mu.nodes[j];
        for (int k = 0; k < 3; ++k) {
            const cplx r = 1.0 / (mu.nodes[j] + ztest[k]);
            tg[k] += mu.w_rho[j] * r;
            th[k] += mu.w_sigma[j] * r;
            tinv[k] += mu.w_sinv[j] * r;
        }
    }
    // a NaN or inf anywhere makes the error inf (std::max would drop a NaN)
    auto rel = [](cplx got, double want) {
        const double r = std::abs(got - want) / std::max(std::abs(want), 1e-300);
        return std::isfinite(r) ? r : INFINITY;
    };
    double err = 0;
    err = std::max(err, rel(m_rho + mu.atom_rho, mu.mass_rho));
    err = std::max(err, rel(m_sig + mu.atom_sigma, mu.mass_sigma));
    err = std::max(err, rel(m_sinv + mu.atom_sinv, mu.mass_sinv));
    err = std::max(err, rel(mean, mu.mean_rho));
    for (int k = 0; k < 3; ++k) {
        const auto& want = ref.transforms[k];
        err = std::max(err, rel(tg[k] + mu.atom_rho / ztest[k], want[0]));
        err = std::max(err, rel(th[k] + mu.atom_sigma / ztest[k], want[1]));
        err = std::max(err, rel(tinv[k] + mu.atom_sinv / ztest[k], want[2]));
    }
    return err;
}

}  // namespace detail

/// The range the measures are built for: N/d in [1e-10, 1e10] and eigenvalues in [1e-150, 1e150]
/// (squares and products of the support's scale stay finite; beyond, the rules are not attempted:
/// the DE is scale-covariant, so rescale Sigma, and N/d outside the range is a degenerate limit).
inline void check_measure_args(const SpectrumView& s, double N) {
    check_N(N);
    require(N / s.d >= 1e-10 && N / s.d <= 1e10, [&] {
        return "N must satisfy 1e-10 <= N/d <= 1e10 for the DE measures (got N = " + num(N) +
               ", d = " + num(s.d) + ")";
    });
    require(s.lambda_min >= 1e-150 && s.lambda_max <= 1e150,
            "eigenvalues must lie in [1e-150, 1e150] for the DE measures (rescale Sigma: the DE is "
            "scale-covariant)");
}

/// The checks shared by the quadrature rules (contour and real axis): the range above, N != d
/// (at N = d the support touches 0: a hard edge with an inverse-square-root density), node limits.
inline void check_rule_args(const SpectrumView& s, double N, const MeasureOptions& opt) {
    check_measure_args(s, N);
    require(std::abs(N - s.d) > 1e-9 * s.d,
            "N must differ from d for the quadrature rules (at N = d the support of C's spectrum touches 0: "
            "a hard edge with an inverse-square-root density)");
    require(opt.m_min >= 8 && opt.m_max >= opt.m_min, "m_min must be >= 8 and <= m_max");
}

/// Build the quadrature rule of the DE measures of C for N samples.
inline DeMeasure de_measure(const SpectrumView& s, double N, const MeasureOptions& opt = {}) {
    check_rule_args(s, N, opt);
    DeMeasure out = detail::measure_with_atoms(s, N);
    const auto [slo, shi] = de_support_edges(s, N, out.kappa0);
    out.s_lo = slo;
    out.s_hi = shi;

    // Bernstein ellipse in u = ln w around [ln s_lo - ln f, ln s_hi + ln f]
    const double f = opt.edge_factor;
    const double ua = std::log(slo) - std::log(f), ub = std::log(shi) + std::log(f);
    const double uc = 0.5 * (ua + ub), L = 0.5 * (ub - ua);
    // B = L (rho - 1/rho) / 2 <= height_max
    const double x = opt.height_max / L;  // (rho - 1/rho) / 2 <= x
    const double rho = std::min(opt.rho_max, x + std::sqrt(x * x + 1.0));
    // semi-axes with foci at the interval ends: A = L (rho + 1/rho)/2, B = L (rho - 1/rho)/2
    const double A = 0.5 * L * (rho + 1.0 / rho);
    const double B = 0.5 * L * (rho - 1.0 / rho);

    const detail::MeasureReferences refs = detail::measure_references(s, N, out);
    bool failed_before = false;
    for (int M = opt.m_min; M <= opt.m_max; M *= 2) {
        std::vector<cplx> z(M), w(M), du(M);
        for (int j = 0; j < M; ++j) {
            const double th = 2.0 * std::numbers::pi * j / M;
            w[j] = std::exp(cplx(uc + A * std::cos(th), B * std::sin(th)));
            du[j] = cplx(-A * std::sin(th), B * std::cos(th));  // du / dtheta
            z[j] = -w[j];
        }
        std::vector<double> vr(M), vi(M), dr(M), di(M), res(M);
        std::vector<std::uint8_t> conv(M);
        std::vector<std::int32_t> its(M);
        KappaOut kout{vr, vi, dr, di, conv, its, res};
        solve_kappa_path(s, N, z, kout, KappaOptions{1e-14, 100, 0.1});
        int failures = 0;
        out.nodes.assign(M, cplx(0));
        out.w_rho.assign(M, cplx(0));
        out.w_sigma.assign(M, cplx(0));
        out.w_sinv.assign(M, cplx(0));
        for (int j = 0; j < M; ++j) {
            if (!conv[j]) { ++failures; continue; }
            const cplx kap(vr[j], vi[j]);
            const cplx zz = z[j];
            const auto [g, h, ginv] = detail::de_transforms<cplx>(s, zz, kap);
            // weight = -(1/2 pi i) m(w) dw/dtheta (2 pi / M) = (i / M) m(w) w u'(theta)
            const cplx fac = cplx(0, 1.0 / M) * w[j] * du[j];
            out.nodes[j] = w[j];
            out.w_rho[j] = fac * g;
            out.w_sigma[j] = fac * h;
            out.w_sinv[j] = fac * ginv;
        }
        out.kappa_failures = failures;
        const double err = detail::measure_error(refs, out);
        out.error = err;
        if (failures == 0 && err <= opt.tol) {
            out.converged = true;
            out.message = "converged";
            return out;
        }
        // failing continuation is not a resolution problem: two levels in a row end the search
        if (failures > 0 && failed_before) break;
        failed_before = failures > 0;
    }
    out.message = out.kappa_failures ? "kappa continuation failed on the contour" : "node limit reached";
    return out;
}

namespace detail {


/// The three loss integrals of one (t, training time) over a rule's continuous part.
struct LossIntegrals {
    double test = 0, train = 0, ridge = 0, imag = 0;
};

/// Real nodes and weights: 1/m, phi and the decay E = e^{-2 eta tau m} at every node first
/// (gradient flow: the vectorised expm1; one division per node), then the sums in one SIMD
/// reduction, with 1 - b^2 phi = (a^2 s + c + b^2 E)/m and 1 - a^2 s phi = (b^2 + c + a^2 s E)/m,
/// which do not cancel at small t. `inv_m`, `phi` and `decay` are scratch of the rule's size.
struct RealRuleScratch {
    std::vector<double> inv_m, phi, decay;
    explicit RealRuleScratch(std::size_t M) : inv_m(M), phi(M), decay(M) {}
};

inline LossIntegrals real_rule_integrals(std::span<const double> s, std::span<const double> w,
                                         std::span<const double> v, double a2, double b2, double c,
                                         const TrainingTime& tt, RealRuleScratch& scratch) {
    const std::size_t M = s.size();
    const double bc = b2 + c;
    double* inv_m = scratch.inv_m.data();
    double* phi = scratch.phi.data();
    double* decay = scratch.decay.data();
    if (!std::isinf(tt.eta_tau) && !(tt.gd_eta > 0)) {  // gradient flow
        const double two_et = 2.0 * tt.eta_tau;
        LINDIFF_PRAGMA(omp simd)
        for (std::size_t j = 0; j < M; ++j) {
            const double m = a2 * s[j] + bc, em = expm1_nonpositive(-two_et * m);
            inv_m[j] = 1.0 / m;
            phi[j] = -em * inv_m[j];
            decay[j] = 1.0 + em;
        }
    } else if (std::isinf(tt.eta_tau)) {  // the minimiser
        LINDIFF_PRAGMA(omp simd)
        for (std::size_t j = 0; j < M; ++j) {
            inv_m[j] = 1.0 / (a2 * s[j] + bc);
            phi[j] = inv_m[j];
            decay[j] = 0.0;
        }
    } else {  // explicit GD
        for (std::size_t j = 0; j < M; ++j) {
            const double m = a2 * s[j] + bc;
            inv_m[j] = 1.0 / m;
            phi[j] = phi_of(m, tt);
            decay[j] = 1.0 - m * phi[j];
        }
    }
    const double ab = a2 * b2;
    double lt = 0, lr = 0, ld = 0;
    LINDIFF_SIMD_SUM(lt, lr, ld)
    for (std::size_t j = 0; j < M; ++j) {
        const double ph = phi[j], as = a2 * s[j];
        const double one = (as + c + b2 * decay[j]) * inv_m[j];   // 1 - b^2 phi
        const double q = (bc + as * decay[j]) * inv_m[j];          // 1 - a u, u = a s phi (ridge data predictor)
        const double f1 = one * one, f2 = ab * ph * ph;
        lt += w[j] * f1 + v[j] * f2;
        lr += w[j] * (f1 + s[j] * f2);
        ld += v[j] * q * q + w[j] * s[j] * s[j] * f2;
    }
    return {lt, lr, ld, 0.0};
}

/// Complex nodes and weights (a contour rule): complex phi per node, |Im| of the sums kept as a check.
inline LossIntegrals contour_integrals(std::span<const cplx> s, std::span<const cplx> w, std::span<const cplx> v,
                                       double a2, double b2, double c, const TrainingTime& tt) {
    const bool gradient_flow = !std::isinf(tt.eta_tau) && !(tt.gd_eta > 0);
    cplx lt = 0, lr = 0, ld = 0;
    for (std::size_t j = 0; j < s.size(); ++j) {
        const cplx m = a2 * s[j] + (b2 + c);
        cplx ph;
        if (gradient_flow) {
            // 1 - e^{y}, y = -2 eta tau m: -(expm1(yr) e^{i yi} + (e^{i yi} - 1)), one sincos
            const double yr = -2.0 * tt.eta_tau * m.real(), yi = -2.0 * tt.eta_tau * m.imag();
            const double h = 0.5 * yi, sh = std::sin(h), ch = std::cos(h);
            const double cy = 1.0 - 2.0 * sh * sh, sy = 2.0 * sh * ch;  // cos yi, sin yi
            const double em1 = std::expm1(yr);
            ph = cplx(-(em1 * cy - 2.0 * sh * sh), -(em1 * sy + sy)) / m;
        } else {
            ph = phi_of(m, tt);
        }
        const cplx one = 1.0 - b2 * ph, f1 = one * one, f2 = a2 * b2 * ph * ph, q = 1.0 - a2 * s[j] * ph;
        lt += w[j] * f1 + v[j] * f2;
        lr += w[j] * (f1 + s[j] * f2);
        ld += v[j] * q * q + w[j] * s[j] * s[j] * f2;
    }
    const double im = std::max({std::abs(lt.imag()), std::abs(lr.imag()), std::abs(ld.imag())});
    return {lt.real(), lr.real(), ld.real(), im};
}

}  // namespace detail

/// Non-owning view of a quadrature rule (e.g. arrays handed back from Python).
struct MeasureView {
    std::span<const cplx> nodes, w_rho, w_sigma, w_sinv;
    double atom_rho = 0, atom_sigma = 0, atom_sinv = 0;
};

/// Gradient-flow (or GD, or minimiser) losses per dimension at times t_idx (0-based) and
/// training times eta_tau, spec §2-§3, from a quadrature rule of the DE measures:
///   L_test  = int F1 drho + int F2 drho_Sigma,  L_train = int (F1 + s F2) drho,
///   L_ridge = int (1 - a^2 s phi)^2 drho_Sigma + int s^2 F2 drho  (the data predictor
///             U = a C phi(C) trained by gradient flow for the same eta tau; x_0 loss),
///   F1 = (1 - b^2 phi)^2, F2 = a^2 b^2 phi^2, phi = phi_t(s) at m = a^2 s + b^2 + c.
/// A rule with real nodes and weights takes the real, vectorised path. Outputs are row-major
/// (n_eta, n_t); `imag` gets the largest |Im| of the integrals (a check; 0 on a real rule).
inline void de_losses(const MeasureView& mu, const ScheduleView& sch, double c,
                      std::span<const double> eta_tau, double gd_eta, std::span<const std::int64_t> t_idx,
                      std::span<double> test, std::span<double> train, std::span<double> ridge, double& imag) {
    const std::int64_t ne = static_cast<std::int64_t>(eta_tau.size()), nt = static_cast<std::int64_t>(t_idx.size());
    const std::size_t M = mu.nodes.size();
    const auto is_real = [](std::span<const cplx> a) {
        return std::all_of(a.begin(), a.end(), [](const cplx& x) { return x.imag() == 0.0; });
    };
    const bool real_rule = is_real(mu.nodes) && is_real(mu.w_rho) && is_real(mu.w_sigma);
    std::vector<double> sr(M), wr(M), vr(M);
    for (std::size_t j = 0; j < M; ++j) {
        sr[j] = mu.nodes[j].real(); wr[j] = mu.w_rho[j].real(); vr[j] = mu.w_sigma[j].real();
    }
    double worst = 0;
#pragma omp parallel reduction(max : worst)
    {
        detail::RealRuleScratch scratch(M);
#pragma omp for collapse(2) schedule(static)
        for (std::int64_t e = 0; e < ne; ++e) {
            for (std::int64_t k = 0; k < nt; ++k) {
                const std::size_t t = static_cast<std::size_t>(t_idx[k]);
                const TrainingTime tt{eta_tau[e], gd_eta};
                const double a2 = sch.a2[t], b2 = sch.b2[t];
                const detail::LossIntegrals li =
                    real_rule ? detail::real_rule_integrals(sr, wr, vr, a2, b2, c, tt, scratch)
                              : detail::contour_integrals(mu.nodes, mu.w_rho, mu.w_sigma, a2, b2, c, tt);
                // atoms at s = 0 (u = a s phi = 0 there)
                const double phi0 = phi_of(b2 + c, tt);
                const double one0 = 1.0 - b2 * phi0;
                test[e * nt + k] = li.test + mu.atom_rho * one0 * one0 + mu.atom_sigma * a2 * b2 * phi0 * phi0;
                train[e * nt + k] = li.train + mu.atom_rho * one0 * one0;
                ridge[e * nt + k] = li.ridge + mu.atom_sigma;
                worst = std::max(worst, li.imag);
            }
        }
    }
    imag = worst;
}

}  // namespace lindiff
