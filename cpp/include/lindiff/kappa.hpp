// lindiff kernel: the deterministic-equivalent fixed point kappa(z).
//
//   z = kappa (1 - df1(kappa) / N),   df1(kappa) = sum_nu lambda_nu / (lambda_nu + kappa).
//
// Real z > 0: the physical root is the unique kappa >= max(z, kappa0) (kappa0 = 0 for N >= d,
// df1(kappa0) = N for N < d).  F(kappa) = kappa (1 - df1/N) - z is convex and increasing there
// with F(max(z, kappa0)) < 0 < F(z + Tr Sigma / N), so a bracketed Newton cannot leave it.
//
// Speed: each point starts from a cubic Hermite interpolant (in log z, log kappa, with the exact
// slopes) of kappa on a fixed lattice ln z = k h.  Lattice nodes are solved independently from
// the bracket, so the value returned for a z depends only on z (not on the other points, their
// order, or the number of threads), and a start is accurate to ~1e-7, leaving 2-3 Newton steps.
//
// Complex z: the branch with kappa ~ z as |z| -> inf and sign(Im kappa) = sign(Im z), continued
// along the given points in order with adaptive sub-steps and a branch check at every step.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <numbers>
#include <span>
#include <unordered_map>
#include <vector>

#include "common.hpp"
#include "roots.hpp"
#include "spectrum.hpp"

namespace lindiff {

struct KappaOptions {
    double tol = 1e-14;    // relative residual (backward error) target
    int max_iter = 100;    // Newton iterations per point (per continuation sub-step for complex z)
    double lattice_h = 0.1;  // lattice spacing in ln z for real starts
};

/// Per-point diagnostics, filled by the batch solvers.
struct KappaOut {
    std::span<double> value_re;         // kappa (real part)
    std::span<double> value_im;         // imaginary part (complex solver only; may be empty)
    std::span<double> deriv_re;         // kappa'(z) = 1 / (1 - df2(kappa)/N)
    std::span<double> deriv_im;
    std::span<std::uint8_t> converged;
    std::span<std::int32_t> iterations;
    std::span<double> residual;         // relative residual of the undamped equation
    std::span<double> sums = {};        // optional (real solvers): n x 4 rows (S1, df1, df2, e12)
};                                      // at the solution (see KappaPoint)

/// A real solution with the spectral sums at it: S1 = sum w/(lambda + kappa), df1, df2 and
/// e12 = sum w lambda/(lambda + kappa)^2, as direct sums (accurate also where forms such as
/// N (1 - z/kappa) cancel, e.g. N >> d).
struct KappaPoint {
    RootResult<double> root;
    double s1 = NAN, df1 = NAN, df2 = NAN, e12 = NAN;
    LINDIFF_HD void set(const KappaSums& k) noexcept { s1 = k.s1; df1 = k.df1; df2 = k.df2; e12 = k.e12; }
    LINDIFF_HD void store(double* row) const noexcept { row[0] = s1; row[1] = df1; row[2] = df2; row[3] = e12; }
};

inline void check_N(double N) {
    require(std::isfinite(N) && N > 0, [&] { return "N must be finite and > 0 (got " + num(N) + ")"; });
}

/// F(kappa) = kappa (1 - df1/N) - z and F' = 1 - df2/N, evaluated without cancellation as
///   F  = kappa (1 - d/N) + kappa^2 S1 / N - z,
///   F' = (1 - d/N) + (2 kappa S1 - kappa^2 S2) / N,
/// (S1, S2 the resolvent sums), with the backward-error scale
/// |z| + |kappa (1 - d/N)| + |kappa^2 S1| / N (the magnitudes of the three terms).
///
/// Overflow-safe for any finite kappa: kappa^2 S1 is formed as kappa (kappa S1) (kappa S1 <= d on
/// the physical branch), and where kappa^2 S2 would under/overflow (|kappa| > 1e100 lambda_max)
/// F' = 1 - df2/N is used instead (df2 ~ d (lambda/kappa)^2: no cancellation there).
LINDIFF_HD_ANY_TYPE
template <class T>
LINDIFF_HD inline Eval<T> kappa_equation(const SpectrumView& s, double N, T z, T kappa) noexcept {
    const ResolventSums<T> r = resolvent_sums(s, kappa);
    const double c = 1.0 - s.d / N;
    const T lin = kappa * c;
    const T ks1 = kappa * r.s1;
    const T quad = kappa * ks1 / N;
    const T dF = std::abs(kappa) > 1e100 * s.lambda_max ? T(1) - power_sums<true>(s, kappa).second / N
                                                         : c + (2.0 * ks1 - kappa * (kappa * r.s2)) / N;
    return {lin + quad - z, dF, std::abs(z) + std::abs(lin) + std::abs(quad)};
}

/// kappa0: 0 for N >= d, else the root of df1(kappa0) = N (bracketed Newton; df1 is convex and
/// decreasing, kappa0 lies in [lambda_min (d - N) / N, Tr / N]).
inline double kappa0(const SpectrumView& s, double N, const RootOptions& opt = {}) {
    check_N(N);
    require(std::isfinite(s.d / N) && std::isfinite(s.trace / N), [&] {
        return "N must be > 0 with d/N and Tr(Sigma)/N finite (got N = " + num(N) + ", d = " +
               num(s.d) + ")";
    });
    if (N >= s.d) return 0.0;
    const double lower = s.lambda_min * (s.d - N) / N;  // df1(lower) >= N, equality iff isotropic
    if (s.lambda_min == s.lambda_max) return lower;      // isotropic: closed form
    const double lo = 0.5 * lower, hi = s.trace / N;     // df1(lo) > N > ... >= df1(hi)
    auto fdf = [&](double k) {
        const DfPair<double> p = df12(s, k);
        // d df1 / d kappa = -(df1 - df2) / kappa
        return Eval<double>{p.df1 - N, -(p.df1 - p.df2) / k, N};
    };
    // Newton from `lower` (left of the root) is monotone for this convex decreasing function
    RootResult<double> r = newton_bracketed(fdf, lo, hi, lower, +1, opt);
    if (!r.converged())
        throw std::runtime_error(std::string("kappa0 solve failed: ") + to_string(r.status));
    return r.x;
}

/// The bracket [max(z, kappa0), z + Tr/N] of the physical real root.
LINDIFF_HD inline std::pair<double, double> kappa_bracket(const SpectrumView& s, double N, double k0, double z) {
    return {std::max(z, k0), z + s.trace / N};
}

/// One Newton step from `x` certified without a second evaluation.
///
/// On the physical branch F'' = (2/N) sum w lambda^2 / (lambda + kappa)^3 > 0 and decreasing, so
/// by Taylor's theorem |F(x1)| <= F''(min(x, x1)) dx^2 / 2 for x1 = x - F/F', and
/// F''(m) <= F''(x) ((lambda_min + x) / (lambda_min + m))^3 for m < x.  The scale of the relative
/// residual at x1 is bounded below the same way.  Returns the bound on the relative residual at
/// x1 (or +inf when the step leaves the bracket).
struct CertifiedStep {
    double x1 = NAN;
    double bound = std::numeric_limits<double>::infinity();
    double df1 = NAN;  // F'(x1) predicted to first order (for kappa')
};

/// `c` = 1 - d/N and `inv_N` = 1/N, computed once per point by the caller (multiplications
/// instead of divisions: a division costs several multiplications' throughput).
LINDIFF_HD inline CertifiedStep certified_newton_step(const SpectrumView& s, double c, double inv_N, double z,
                                           double x, const KappaSums& r, double F, double dF,
                                           double lo, double hi) noexcept {
    CertifiedStep out;
    if (!(dF > 0)) return out;
    const double dx = -F / dF;
    const double x1 = x + dx;
    if (!(x1 >= lo && x1 <= hi) || !(x1 > 0)) return out;
    const double m = std::min(x, x1);
    const double rho = (s.lambda_min + x) / (s.lambda_min + m);
    const double d2F = 2.0 * r.c3 * inv_N;
    // a factor 2 covers rounding in the sums themselves
    const double fbound = 2.0 * 0.5 * d2F * rho * rho * rho * dx * dx;
    const double s1_lo = x1 > x ? r.s1 * (s.lambda_min + x) / (s.lambda_min + x1) : r.s1;
    const double scale_lo = std::abs(z) + std::abs(x1 * c) + x1 * (x1 * s1_lo) * inv_N;
    out.x1 = x1;
    out.bound = fbound / scale_lo + 4 * eps;  // + the rounding of evaluating F itself at x1
    // F'(x1) = F'(x) + F''(xi) dx: first-order prediction, accurate to O(dx^2) for kappa'
    out.df1 = dF + d2F * dx;
    return out;
}

/// The first evaluation of solve_kappa_real_point for many points at once (SoA arrays of a
/// block, SIMD lanes): from the start g, its bracket [lo, hi] and the sums rs at g, decide
/// whether g is already converged (kind 1) or the certified Newton step meets tol (kind 2), with
/// the results of those cases; kind 0: neither (the caller runs solve_kappa_real_point, which
/// goes on from the same evaluation). Every quantity is the same operation on the same operands
/// as in solve_kappa_real_point / certified_newton_step, computed unconditionally and selected,
/// so a lane's numbers are bitwise the one-point numbers (the kernel compiles without implicit
/// contraction).
struct FastStartBlock {
    static constexpr int B = 64;
    double z[B], lo[B], hi[B], g[B];
    double s1[B], s2[B], c3[B], df1[B], df2[B], e12[B], e13[B];
    double x[B], df[B], deriv[B], res[B], o_s1[B], o_df1[B], o_df2[B], o_e12[B];
    double kind[B];  // 0, 1, 2 (a double: every lane array has the same element size)
};

inline void fast_start_block(const SpectrumView& s, double N, double tol, int n, FastStartBlock& b) noexcept {
    const double c = 1.0 - s.d / N, inv_N = 1.0 / N, lmin = s.lambda_min, big = 1e100 * s.lambda_max;
    constexpr double inf = std::numeric_limits<double>::infinity();
    LINDIFF_PRAGMA(omp simd)
    for (int j = 0; j < n; ++j) {
        const double g = b.g[j], z = b.z[j];
        const double lin = g * c, quad = g * (g * b.s1[j]) * inv_N;
        const double F = lin + quad - z;
        const double dF_far = 1.0 - b.df2[j] * inv_N;
        const double dF_near = c + (2.0 * g * b.s1[j] - g * (g * b.s2[j])) * inv_N;
        const double dF = g > big ? dF_far : dF_near;
        const double scale = std::abs(z) + std::abs(lin) + std::abs(quad);
        const double aF = std::abs(F), thr = tol * scale;   // converged at g: aF <= thr
        // certified_newton_step(s, c, inv_N, z, g, rs, F, dF, lo, hi); bound inf where it returns early
        // (selects of computed values, no bool temporaries: the loop if-converts and vectorises)
        const double dx = -F / dF;
        const double x1 = g + dx;
        const double m = std::min(g, x1);
        const double rho = (lmin + g) / (lmin + m);
        const double d2F = 2.0 * b.c3[j] * inv_N;
        const double fbound = 2.0 * 0.5 * d2F * rho * rho * rho * dx * dx;
        const double s1_up = b.s1[j] * (lmin + g) / (lmin + x1);
        const double s1_lo = x1 > g ? s1_up : b.s1[j];
        const double scale_lo = std::abs(z) + std::abs(x1 * c) + x1 * (x1 * s1_lo) * inv_N;
        double bound = fbound / scale_lo + 4 * eps;
        bound = dF > 0 ? bound : inf;
        bound = x1 >= b.lo[j] ? bound : inf;
        bound = x1 <= b.hi[j] ? bound : inf;
        bound = x1 > 0 ? bound : inf;
        const double dxu = x1 - g;
        b.kind[j] = aF <= thr ? 1.0 : (bound <= tol ? 2.0 : 0.0);
        b.x[j] = aF <= thr ? g : x1;
        b.df[j] = aF <= thr ? dF : dF + d2F * dx;
        b.deriv[j] = 1.0 / b.df[j];   // kappa' as store_kappa_point forms it
        b.res[j] = aF <= thr ? aF / scale : bound;
        b.o_s1[j] = aF <= thr ? b.s1[j] : b.s1[j] - dxu * b.s2[j];
        b.o_df1[j] = aF <= thr ? b.df1[j] : b.df1[j] - dxu * b.e12[j];
        b.o_df2[j] = aF <= thr ? b.df2[j] : b.df2[j] - 2.0 * dxu * b.c3[j];
        b.o_e12[j] = aF <= thr ? b.e12[j] : b.e12[j] - 2.0 * dxu * b.e13[j];
    }
}

/// Solve one real z > 0 from the first guess `guess` (any value; clamped into the bracket).
///
/// With a finite guess inside the bracket the first evaluation is followed by a certified
/// Newton step (no second evaluation) when the Taylor bound on its residual meets `tol`;
/// otherwise, or without a guess, the safeguarded bracketed Newton of roots.hpp takes over.
/// In the certified case `residual` is that rigorous upper bound.  `at_guess`, when given, are
/// kappa_sums(s, guess) computed beforehand (the batch evaluates a block of starts at once: the
/// same numbers, so the same result).
LINDIFF_HD inline KappaPoint solve_kappa_real_point(const SpectrumView& s, double N, double k0,
                                                   double z, double guess, const KappaOptions& opt,
                                                   const KappaSums* at_guess = nullptr) {
    auto [lo, hi] = kappa_bracket(s, N, k0, z);
    RootOptions ro;
    ro.ftol = opt.tol;
    ro.max_iter = opt.max_iter;
    auto fdf = [&](double k) { return kappa_equation<double>(s, N, z, k); };
    auto with_sums = [&](const RootResult<double>& r) {  // one more pass for df1, df2 at r.x
        KappaPoint p{r};
        if (std::isfinite(r.x)) p.set(kappa_sums(s, r.x));
        return p;
    };
    if (!(lo < hi)) {  // bracket collapsed to a point in floating point (z huge relative to Tr/N)
        RootResult<double> r;
        const Eval<double> e = fdf(lo);
        r.x = lo; r.f = e.f; r.df = e.df; r.residual = std::abs(e.f) / e.scale; r.iterations = 1;
        r.status = r.residual <= opt.tol ? RootStatus::converged : RootStatus::step_floor;
        return with_sums(r);
    }
    int used = 0;
    if (std::isfinite(guess) && guess > lo && guess < hi && opt.max_iter >= 1) {
        const KappaSums rs = at_guess ? *at_guess : kappa_sums(s, guess);
        const double c = 1.0 - s.d / N, inv_N = 1.0 / N;
        const double lin = guess * c, quad = guess * (guess * rs.s1) * inv_N;
        const double F = lin + quad - z;
        const double dF = guess > 1e100 * s.lambda_max ? 1.0 - rs.df2 * inv_N  // as in kappa_equation
                                                       : c + (2.0 * guess * rs.s1 - guess * (guess * rs.s2)) * inv_N;
        const double scale = std::abs(z) + std::abs(lin) + std::abs(quad);
        used = 1;
        KappaPoint p;
        RootResult<double>& r = p.root;
        r.iterations = 1;
        if (std::abs(F) <= opt.tol * scale) {
            r.x = guess; r.f = F; r.df = dF; r.residual = std::abs(F) / scale;
            r.status = RootStatus::converged;
            p.set(rs);
            return p;
        }
        const CertifiedStep cs = certified_newton_step(s, c, inv_N, z, guess, rs, F, dF, lo, hi);
        if (cs.bound <= opt.tol) {
            r.x = cs.x1; r.f = NAN; r.df = cs.df1; r.residual = cs.bound;
            r.status = RootStatus::converged;
            // first-order updates to x1 (the error is O(dx^2), dx ~ 1e-8 relative):
            // dS1 = -S2, d df1 = -e12, d df2 = -2 C3, d e12 = -2 e13 (per unit kappa)
            const double dx = cs.x1 - guess;
            p.s1 = rs.s1 - dx * rs.s2;
            p.df1 = rs.df1 - dx * rs.e12;
            p.df2 = rs.df2 - 2.0 * dx * rs.c3;
            p.e12 = rs.e12 - 2.0 * dx * rs.e13;
            return p;
        }
        if (opt.max_iter == 1) {  // no budget left: return the evaluated point, exact residual
            r.x = guess; r.f = F; r.df = dF; r.residual = std::abs(F) / scale;
            r.status = RootStatus::max_iter;
            p.set(rs);
            return p;
        }
        // keep what the evaluation taught us: shrink the bracket, restart from the Newton point
        if (F < 0) lo = guess; else hi = guess;
        guess = std::isfinite(cs.x1) ? cs.x1 : guess - F / dF;
    }
    RootOptions rest = ro;
    rest.max_iter = opt.max_iter - used;
    RootResult<double> r = newton_bracketed(fdf, lo, hi, guess, -1, rest);
    r.iterations += used;
    return with_sums(r);
}

/// One node of the start lattice ln z = k h: ln kappa and d ln kappa / d ln z there.
struct LatticeNode {
    double lnz = 0, lnkappa = 0, slope = 0;
    int ok = 0;
};

/// Cubic Hermite polynomial through (x0, y0, y0') and (x1, y1, y1') evaluated at x (also
/// outside [x0, x1]: used as a predictor).
LINDIFF_HD inline double hermite_cubic(double x0, double y0, double m0, double x1, double y1, double m1,
                                       double x) noexcept {
    const double h = x1 - x0;
    const double t = (x - x0) / h;
    const double t2 = t * t, t3 = t2 * t;
    return (2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + t) * h * m0 + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * h * m1;
}

/// ln z for the start lattice (cells and Hermite parameter): the exponent from the bits and
/// 2 atanh((m - 1)/(m + 1)) for the mantissa m in [sqrt(1/2), sqrt(2)) (series to s^13: absolute
/// error below 1e-14, far inside what a start needs). Plain arithmetic without branches or
/// calls, so a loop over points vectorises, and every path (one point, batch, GPU) computes the
/// same bits. z > 0 finite.
LINDIFF_HD inline double start_log(double z) noexcept {
    constexpr double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    // (subnormal z, below 2^-1022, get a value near -709 instead: a cell and a start, the same
    // on every path; such a z then solves from a poor start, never a wrong one)
    const std::uint64_t b = std::bit_cast<std::uint64_t>(z);
    // mantissa above sqrt(2): take m/2 and e + 1 (an integer select on the bits, no branch)
    const std::uint64_t hi = (b & 0x000FFFFFFFFFFFFFull) > 0x6A09E667F3BCDull ? 1 : 0;
    const std::uint64_t eb = (b >> 52) + hi;
    // exponent as a double without an int64 -> double conversion: 2^52 + e_bits, minus the offset
    const double e = std::bit_cast<double>(eb | 0x4330000000000000ull) - (4503599627370496.0 + 1023.0);
    const double m = std::bit_cast<double>((b & 0x000FFFFFFFFFFFFFull) | ((1023 - hi) << 52));
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = 1.0 / 13;
    p = fma_if_fast(p, s2, 1.0 / 11);
    p = fma_if_fast(p, s2, 1.0 / 9);
    p = fma_if_fast(p, s2, 1.0 / 7);
    p = fma_if_fast(p, s2, 1.0 / 5);
    p = fma_if_fast(p, s2, 1.0 / 3);
    p = fma_if_fast(p, s2, 1.0);
    return fma_if_fast(e, ln2_hi, fma_if_fast(e, ln2_lo, 2.0 * s * p));
}


/// The lattice cell of ln z (``lnz`` = start_log(z), computed once per point by the callers).
LINDIFF_HD inline std::int64_t lattice_index_ln(double lnz, double h) {
    return static_cast<std::int64_t>(std::floor(lnz / h));
}

LINDIFF_HD inline std::int64_t lattice_index(double z, double h) { return lattice_index_ln(start_log(z), h); }

/// The start at ln z from the nodes A (k = lattice_index_ln(lnz)) and B (k + 1): cubic Hermite
/// in (ln z, ln kappa) with the exact slopes; NaN when a node failed.
LINDIFF_HD inline double lattice_guess_ln(const LatticeNode& A, const LatticeNode& B, double lnz) {
    if (!A.ok || !B.ok) return NAN;
    return exp_branchfree(hermite_cubic(A.lnz, A.lnkappa, A.slope, B.lnz, B.lnkappa, B.slope, lnz));
}

LINDIFF_HD inline double lattice_guess(const LatticeNode& A, const LatticeNode& B, double z) {
    return lattice_guess_ln(A, B, start_log(z));
}

/// Non-owning view of a lattice (host or device memory).
struct LatticeView {
    const LatticeNode* table = nullptr;  // indexed by k - kmin, k = kmin .. kmin + size - 1
    std::int64_t kmin = 0;
    std::size_t size = 0;
    double h = 0.1;

    /// Cubic Hermite interpolation of ln kappa in ln z (exact slopes); NaN when unavailable.
    LINDIFF_HD double guess(double z) const { return guess_ln(start_log(z)); }

    /// The same from ln z = start_log(z) (bitwise the same start: one log per point).
    LINDIFF_HD double guess_ln(double lnz) const {
        const std::int64_t k = lattice_index_ln(lnz, h) - kmin;
        if (k < 0 || static_cast<std::size_t>(k) + 1 >= size) return NAN;
        return lattice_guess_ln(table[k], table[k + 1], lnz);
    }
};

/// The start lattice for a batch of real z: the nodes next to every z, each solved
/// independently from the bracket (so a node's value depends on its position only).
/// ln z of a positive finite double lies in [-745, 710], so the table between the smallest
/// and largest index is short (at most ~1500 / h entries) and dense (O(1) look-up).
struct KappaLattice {
    std::vector<LatticeNode> table;
    std::int64_t kmin = 0;
    double h = 0.1;
    [[nodiscard]] LatticeView view() const { return {table.data(), kmin, table.size(), h}; }
};

/// Spectrum passes a lattice node costs (a solve from the bracket, ~5 measured) and a batch
/// point costs (one pass from the lattice start, one for the sums): the work estimates behind
/// the serial/parallel switch (parallel_pays).
inline constexpr double kappa_node_passes = 6.0;
inline constexpr double kappa_point_passes = 2.0;

/// The options a lattice node is solved with (at least 200 iterations: no start).
inline KappaOptions lattice_node_options(const KappaOptions& opt) noexcept {
    KappaOptions o = opt;
    o.max_iter = std::max(opt.max_iter, 200);
    return o;
}

/// Node k of the lattice ln z = k h (h = opt.lattice_h), solved from the bracket alone: its
/// value depends on (spectrum, N, k, h, tol, max_iter) only.  `opt` are lattice_node_options.
inline LatticeNode solve_lattice_node(const SpectrumView& s, double N, double k0, std::int64_t k,
                                      const KappaOptions& node_opt) {
    const double lnz = static_cast<double>(k) * node_opt.lattice_h;
    const double zz = std::exp(lnz);
    LatticeNode nd{lnz, 0, 0, 0};
    if (std::isfinite(zz) && zz > 0) {
        const RootResult<double> r = solve_kappa_real_point(s, N, k0, zz, NAN, node_opt).root;
        if (r.converged() && r.x > 0 && r.df > 0) {
            nd.lnkappa = std::log(r.x);
            nd.slope = zz / (r.df * r.x);
            nd.ok = 1;
        }
    }
    return nd;
}

/// Memoised per-spectrum solves: kappa0(N) and lattice nodes, keyed by N and the node options.
///
/// Every entry is a pure function of its key (and of the spectrum the cache belongs to), so a
/// result computed with the cache is bitwise the one computed without it; the cache only skips
/// repeated work: a loop calling kappa one z at a time at a fixed N pays for a node once, then
/// one spectrum pass per call.  Thread-safe (one mutex; the solves run outside it).  Bounded:
/// when full it is emptied (max_nodes nodes, max_kappa0 values of N).
class KappaCache {
public:
    static constexpr std::size_t max_nodes = std::size_t(1) << 15;  // ~3 MiB with the hash table
    static constexpr std::size_t max_kappa0 = 1024;

    /// kappa0(s, N), memoised (s must be the spectrum this cache belongs to).
    double kappa0(const SpectrumView& s, double N) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            const auto it = k0_.find(N);
            if (it != k0_.end()) return it->second;
        }
        const double k0 = lindiff::kappa0(s, N);  // throws for a bad N: nothing stored
        std::lock_guard<std::mutex> lock(mutex_);
        if (k0_.size() >= max_kappa0) k0_.clear();
        k0_.emplace(N, k0);
        return k0;
    }

    /// Look up node k for (N, node options); false when absent.
    bool find(double N, const KappaOptions& node_opt, std::int64_t k, LatticeNode& out) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = nodes_.find(Key{N, node_opt.tol, node_opt.lattice_h, node_opt.max_iter, k});
        if (it == nodes_.end()) return false;
        out = it->second;
        return true;
    }

    void insert(double N, const KappaOptions& node_opt, std::span<const std::int64_t> keys,
                std::span<const LatticeNode> nodes) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (nodes_.size() + keys.size() > max_nodes) nodes_.clear();
        if (keys.size() > max_nodes) return;
        for (std::size_t j = 0; j < keys.size(); ++j)
            nodes_.emplace(Key{N, node_opt.tol, node_opt.lattice_h, node_opt.max_iter, keys[j]}, nodes[j]);
    }

    /// Node k, from the cache or solved (and stored).
    LatticeNode node(const SpectrumView& s, double N, double k0, std::int64_t k, const KappaOptions& node_opt) {
        LatticeNode nd;
        if (find(N, node_opt, k, nd)) return nd;
        nd = solve_lattice_node(s, N, k0, k, node_opt);
        insert(N, node_opt, {&k, 1}, {&nd, 1});
        return nd;
    }

    [[nodiscard]] std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return nodes_.size();
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        nodes_.clear();
        k0_.clear();
    }

private:
    struct Key {
        double N, tol, h;
        int max_iter;
        std::int64_t k;
        bool operator==(const Key& o) const noexcept {
            return N == o.N && tol == o.tol && h == o.h && max_iter == o.max_iter && k == o.k;
        }
    };
    struct KeyHash {
        static std::size_t mix(std::size_t h, std::uint64_t v) noexcept {
            return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
        }
        static std::uint64_t bits(double x) noexcept {
            std::uint64_t u;
            std::memcpy(&u, &x, sizeof u);
            return u;
        }
        std::size_t operator()(const Key& key) const noexcept {
            std::size_t h = std::hash<std::int64_t>{}(key.k);
            h = mix(h, bits(key.N));
            h = mix(h, bits(key.tol));
            h = mix(h, bits(key.h));
            return mix(h, static_cast<std::uint64_t>(key.max_iter));
        }
    };
    mutable std::mutex mutex_;
    std::unordered_map<Key, LatticeNode, KeyHash> nodes_;
    std::unordered_map<double, double> k0_;
};

/// The start lattice for a batch of real z: the nodes next to every z, each solved
/// independently from the bracket (so a node's value depends on its position only), taken
/// from `cache` when given (and the new ones stored there).  The nodes are solved in parallel
/// only when their work pays for an OpenMP team (parallel_pays).
/// The lattice for points whose cells are `cell` (floor(ln z / h) as doubles, see log_points).
inline KappaLattice build_kappa_lattice_ln(const SpectrumView& s, double N, double k0,
                                           std::span<const double> cell, const KappaOptions& opt,
                                           KappaCache* cache = nullptr) {
    KappaLattice lat;
    lat.h = opt.lattice_h;
    if (cell.empty()) return lat;
    double cmin = cell[0], cmax = cell[0];
    for (double c : cell) {
        cmin = std::min(cmin, c);
        cmax = std::max(cmax, c);
    }
    const std::int64_t kmin = static_cast<std::int64_t>(cmin), kmax = static_cast<std::int64_t>(cmax);
    const std::size_t span = static_cast<std::size_t>(kmax - kmin) + 2;
    std::vector<std::uint8_t> needed(span, 0);
    for (double c : cell) {
        const std::size_t j = static_cast<std::size_t>(static_cast<std::int64_t>(c) - kmin);
        needed[j] = needed[j + 1] = 1;
    }
    lat.kmin = kmin;
    lat.table.assign(span, LatticeNode{});
    const KappaOptions node_opt = lattice_node_options(opt);
    std::vector<std::int64_t> keys;  // nodes to solve
    for (std::size_t j = 0; j < span; ++j) {
        if (!needed[j]) continue;
        const std::int64_t k = kmin + static_cast<std::int64_t>(j);
        if (cache && cache->find(N, node_opt, k, lat.table[j])) continue;
        keys.push_back(k);
    }
    const std::int64_t nn = static_cast<std::int64_t>(keys.size());
    [[maybe_unused]] const double work = static_cast<double>(nn) * kappa_node_passes * static_cast<double>(s.size());
#pragma omp parallel for schedule(dynamic, 4) if (parallel_pays(work))
    for (std::int64_t j = 0; j < nn; ++j)
        lat.table[static_cast<std::size_t>(keys[j] - kmin)] = solve_lattice_node(s, N, k0, keys[j], node_opt);
    if (cache && nn > 0) {
        std::vector<LatticeNode> solved(keys.size());
        for (std::size_t j = 0; j < keys.size(); ++j) solved[j] = lat.table[static_cast<std::size_t>(keys[j] - kmin)];
        cache->insert(N, node_opt, keys, solved);
    }
    return lat;
}

/// ln z of every point (start_log, so the starts are bitwise those of lattice_guess) and its
/// lattice cell floor(ln z / h) as a double (lattice_index_ln without the integer conversion),
/// in SIMD lanes, and in parallel when the batch's spectrum work pays for a team (`work`).
struct LogPoints {
    std::vector<double> lnz, cell;
};

inline void log_points(std::span<const double> z, double h, [[maybe_unused]] double work, LogPoints& out) {
    out.lnz.resize(z.size());
    out.cell.resize(z.size());
    const std::int64_t n = static_cast<std::int64_t>(z.size());
    double* lnz = out.lnz.data();
    double* cell = out.cell.data();
#pragma omp parallel for simd schedule(static) if (parallel_pays(work))
    for (std::int64_t i = 0; i < n; ++i) {
        lnz[i] = start_log(z[static_cast<std::size_t>(i)]);
        cell[i] = std::floor(lnz[i] / h);
    }
}


inline KappaLattice build_kappa_lattice(const SpectrumView& s, double N, double k0,
                                        std::span<const double> z, const KappaOptions& opt,
                                        KappaCache* cache = nullptr) {
    LogPoints lp;
    log_points(z, opt.lattice_h, 0.0, lp);
    return build_kappa_lattice_ln(s, N, k0, lp.cell, opt, cache);
}

/// Argument checks shared by every real-z backend.
inline void check_kappa_real_args(double N, std::span<const double> z, const KappaOptions& opt) {
    check_N(N);
    require(opt.tol > 0, "tol must be > 0");
    require(opt.max_iter >= 1, "max_iter must be >= 1");
    require(opt.lattice_h > 0 && opt.lattice_h <= 1, "lattice_h must be in (0, 1]");
    for (std::size_t i = 0; i < z.size(); ++i)
        require(std::isfinite(z[i]) && z[i] > 0, [&] {
            return "z must be finite and > 0 for real solves (got " + num(z[i]) +
                   " at flat index " + std::to_string(i) + "); pass complex z for the continuation";
        });
}

/// Store a solved point's diagnostics (kappa' = 1/F').
LINDIFF_HD inline void store_kappa_point(const KappaPoint& p, double* value, double* deriv,
                                         std::uint8_t* converged, std::int32_t* iterations,
                                         double* residual, double* sums) {
    const RootResult<double>& r = p.root;
    *value = r.x;
    *deriv = 1.0 / r.df;
    *converged = r.converged() ? 1 : 0;
    *iterations = r.iterations;
    *residual = r.residual;
    if (sums) p.store(sums);
}

/// Solve point i of a batch (lnz = start_log(z)): lattice start, then solve_kappa_real_point;
/// store the diagnostics.
/// `value`, `deriv`, ... are raw pointers so the same code runs on a GPU.
LINDIFF_HD inline void solve_kappa_real_batch_point(const SpectrumView& s, double N, double k0,
                                                    const LatticeView& lat, double z, double lnz,
                                                    const KappaOptions& opt, double* value,
                                                    double* deriv, std::uint8_t* converged,
                                                    std::int32_t* iterations, double* residual,
                                                    double* sums = nullptr) {
    const KappaPoint p = solve_kappa_real_point(s, N, k0, z, lat.guess_ln(lnz), opt);
    store_kappa_point(p, value, deriv, converged, iterations, residual, sums);
}

/// Points i0 .. i1 - 1 of a batch in three passes (starts, spectral sums at the starts, Newton
/// step): each pass is a short independent loop, so consecutive points overlap in the CPU
/// where one long per-point chain (exp, a reduction, a few divisions) would not. The numbers
/// are those of solve_kappa_real_batch_point, point by point.
inline void solve_kappa_real_block(const SpectrumView& s, double N, double k0, const LatticeView& lat,
                                   std::span<const double> z, const LogPoints& lp, std::size_t i0,
                                   std::size_t i1, const KappaOptions& opt, const KappaOut& out) {
    const double* lnz = lp.lnz.data();
    constexpr std::size_t B = FastStartBlock::B;
    FastStartBlock b;
    std::uint8_t have[B];
    const bool lanes = s.size() <= kappa_sums_ordered_max;  // the sums in SIMD lanes too
    for (std::size_t b0 = i0; b0 < i1; b0 += B) {
        const std::size_t nb = std::min(B, i1 - b0);
        // starts: the two lattice nodes of each point (table look-ups), then the Hermite
        // interpolant and exp_branchfree in SIMD lanes; bitwise lat.guess_ln (the same operations)
        double nx0[B], ny0[B], nm0[B], nx1[B], ny1[B], nm1[B];
        for (std::size_t j = 0; j < nb; ++j) {
            const std::int64_t k = static_cast<std::int64_t>(lp.cell[b0 + j]) - lat.kmin;   // lattice_index_ln
            const bool in = k >= 0 && static_cast<std::size_t>(k) + 1 < lat.size && lat.table[k].ok && lat.table[k + 1].ok;
            have[j] = in ? 1 : 0;
            const LatticeNode& A = lat.table[in ? k : 0];
            const LatticeNode& C = lat.table[in ? k + 1 : 0];
            nx0[j] = in ? A.lnz : 0.0; ny0[j] = A.lnkappa; nm0[j] = A.slope;
            nx1[j] = in ? C.lnz : 1.0; ny1[j] = C.lnkappa; nm1[j] = C.slope;
        }
        const double trace_N = s.trace / N;
        LINDIFF_PRAGMA(omp simd)
        for (std::size_t j = 0; j < nb; ++j) {
            b.g[j] = exp_branchfree(hermite_cubic(nx0[j], ny0[j], nm0[j], nx1[j], ny1[j], nm1[j], lnz[b0 + j]));
            b.z[j] = z[b0 + j];
            b.lo[j] = std::max(b.z[j], k0);       // kappa_bracket
            b.hi[j] = b.z[j] + trace_N;
        }
        for (std::size_t j = 0; j < nb; ++j) {
            // the condition under which solve_kappa_real_point evaluates its start
            have[j] = have[j] && b.lo[j] < b.hi[j] && std::isfinite(b.g[j]) && b.g[j] > b.lo[j] && b.g[j] < b.hi[j] &&
                      opt.max_iter >= 1;
            if (!have[j]) b.g[j] = 1.0;   // a harmless lane value; the point is solved below
        }
        if (lanes) {
            constexpr int L = 8;
            for (std::size_t j0 = 0; j0 < nb; j0 += L) {
                KappaSumsLanes<L> a;
                double kap[L];
                for (int l = 0; l < L; ++l) kap[l] = j0 + static_cast<std::size_t>(l) < nb ? b.g[j0 + l] : 1.0;
                kappa_sums_lanes<L>(s, kap, a);
                for (int l = 0; l < L && j0 + static_cast<std::size_t>(l) < nb; ++l) {
                    const std::size_t j = j0 + static_cast<std::size_t>(l);
                    b.s1[j] = a.s1[l]; b.s2[j] = a.s2[l]; b.c3[j] = a.c3[l]; b.df1[j] = a.df1[l];
                    b.df2[j] = a.df2[l]; b.e12[j] = a.e12[l]; b.e13[j] = a.e13[l];
                }
            }
        } else {
            for (std::size_t j = 0; j < nb; ++j) {
                const KappaSums r = have[j] ? kappa_sums(s, b.g[j]) : KappaSums{1, 1, 1, 1, 1, 1, 1};
                b.s1[j] = r.s1; b.s2[j] = r.s2; b.c3[j] = r.c3; b.df1[j] = r.df1;
                b.df2[j] = r.df2; b.e12[j] = r.e12; b.e13[j] = r.e13;
            }
        }
        fast_start_block(s, N, opt.tol, static_cast<int>(nb), b);
        for (std::size_t j = 0; j < nb; ++j) {
            const std::size_t i = b0 + j;
            double* sums = out.sums.empty() ? nullptr : &out.sums[4 * i];
            if (have[j] && b.kind[j] != 0.0) {  // converged at the start, or by the certified step
                out.value_re[i] = b.x[j];
                out.deriv_re[i] = b.deriv[j];
                out.converged[i] = 1;
                out.iterations[i] = 1;
                out.residual[i] = b.res[j];
                if (sums) { sums[0] = b.o_s1[j]; sums[1] = b.o_df1[j]; sums[2] = b.o_df2[j]; sums[3] = b.o_e12[j]; }
                continue;
            }
            const KappaSums rs{b.s1[j], b.s2[j], b.c3[j], b.df1[j], b.df2[j], b.e12[j], b.e13[j]};
            const KappaPoint p = solve_kappa_real_point(s, N, k0, b.z[j], have[j] ? b.g[j] : lat.guess_ln(lnz[i]), opt,
                                                        have[j] ? &rs : nullptr);
            store_kappa_point(p, &out.value_re[i], &out.deriv_re[i], &out.converged[i], &out.iterations[i],
                              &out.residual[i], sums);
        }
    }
}

/// Batch solve for real z > 0 (OpenMP over points; identical results for any thread count).
/// `out.value_im` / `out.deriv_im` are ignored.
/// The loop over points runs in parallel only when its work pays for an OpenMP team
/// (parallel_pays); with `cache`, kappa0 and the lattice nodes are memoised there (same bits).
/// Returns kappa0 (NaN for an empty z).
inline double solve_kappa_real(const SpectrumView& s, double N, std::span<const double> z,
                               const KappaOut& out, const KappaOptions& opt = {},
                               KappaCache* cache = nullptr) {
    check_kappa_real_args(N, z, opt);
    if (z.empty()) return NAN;
    const double k0 = cache ? cache->kappa0(s, N) : kappa0(s, N);
    const std::int64_t np = static_cast<std::int64_t>(z.size());
    // a point costs one spectrum pass plus a log and an exp (its start): ~ 24 terms' worth
    [[maybe_unused]] const double work =
        static_cast<double>(np) * (kappa_point_passes * static_cast<double>(s.size()) + 24.0);
    LogPoints lp;
    log_points(z, opt.lattice_h, work, lp);
    const KappaLattice lattice = build_kappa_lattice_ln(s, N, k0, lp.cell, opt, cache);
    const LatticeView lat = lattice.view();
    constexpr std::int64_t chunk = 512;  // points per task (blocks of 64 inside)
    const std::int64_t nchunks = (np + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (parallel_pays(work))
    for (std::int64_t c = 0; c < nchunks; ++c)
        solve_kappa_real_block(s, N, k0, lat, z, lp, static_cast<std::size_t>(c * chunk),
                               static_cast<std::size_t>(std::min(np, (c + 1) * chunk)), opt, out);
    return k0;
}

/// One real z > 0, the way solve_kappa_real solves it inside any batch: the same two lattice
/// nodes (memoised in `cache`), the same start, the same Newton; so the result is the batch
/// result for this z, without an OpenMP team or a lattice table.  Sets *k0_out to kappa0.
inline KappaPoint solve_kappa_real_one(const SpectrumView& s, double N, double z, const KappaOptions& opt,
                                       KappaCache& cache, double* k0_out = nullptr) {
    check_kappa_real_args(N, {&z, 1}, opt);
    const double k0 = cache.kappa0(s, N);
    if (k0_out) *k0_out = k0;
    const KappaOptions node_opt = lattice_node_options(opt);
    const std::int64_t k = lattice_index(z, opt.lattice_h);
    const LatticeNode A = cache.node(s, N, k0, k, node_opt);
    const LatticeNode B = cache.node(s, N, k0, k + 1, node_opt);
    const double guess = lattice_guess(A, B, z);
    if (s.size() <= kappa_sums_ordered_max) {  // the start evaluated as a batch evaluates it (same bits)
        const KappaSums rs = kappa_sums_ordered(s, std::isfinite(guess) ? guess : 1.0);
        return solve_kappa_real_point(s, N, k0, z, guess, opt, &rs);
    }
    return solve_kappa_real_point(s, N, k0, z, guess, opt);
}

/// Several curves z_j(t) at once (row j of a row-major n_curves x n_points array, each with its
/// own N_j).  Along a curve every point starts from a predictor built from its predecessors:
/// the cubic Hermite extrapolation in (ln z, ln kappa) through the last two solutions (first
/// order from one), so a smooth curve (z_t over diffusion times) costs about one spectrum pass
/// per point and needs no lattice.  Curves run in parallel; a curve's values do not depend on
/// the number of threads.
inline void solve_kappa_curves(const SpectrumView& s, std::span<const double> N, std::span<const double> z,
                               std::size_t n_points, const KappaOut& out, const KappaOptions& opt = {}) {
    require(n_points > 0 && z.size() == N.size() * n_points, "z must have shape (len(N), n_points)");
    for (double n : N) check_N(n);
    check_kappa_real_args(N.empty() ? 1.0 : N[0], z, opt);
    std::vector<double> k0(N.size());
    for (std::size_t j = 0; j < N.size(); ++j) k0[j] = kappa0(s, N[j]);
    const std::int64_t nc = static_cast<std::int64_t>(N.size());
    [[maybe_unused]] const double work = static_cast<double>(z.size()) * kappa_point_passes * static_cast<double>(s.size());
#pragma omp parallel for schedule(dynamic, 1) if (parallel_pays(work))
    for (std::int64_t j = 0; j < nc; ++j) {
        // (ln z, ln kappa, d ln kappa / d ln z) of the last two converged points
        double x1 = NAN, y1 = NAN, m1 = NAN, x0 = NAN, y0 = NAN, m0 = NAN;
        for (std::size_t t = 0; t < n_points; ++t) {
            const std::size_t i = static_cast<std::size_t>(j) * n_points + t;
            const double x = std::log(z[i]);
            double guess = NAN;
            if (std::isfinite(x0) && x1 != x0) guess = std::exp(hermite_cubic(x0, y0, m0, x1, y1, m1, x));
            else if (std::isfinite(x1)) guess = std::exp(y1 + m1 * (x - x1));
            const KappaPoint p = solve_kappa_real_point(s, N[j], k0[j], z[i], guess, opt);
            const RootResult<double>& r = p.root;
            out.value_re[i] = r.x;
            out.deriv_re[i] = 1.0 / r.df;
            out.converged[i] = r.converged() ? 1 : 0;
            out.iterations[i] = r.iterations;
            out.residual[i] = r.residual;
            if (!out.sums.empty()) p.store(&out.sums[4 * i]);
            if (r.converged() && r.x > 0) {
                x0 = x1; y0 = y1; m0 = m1;
                x1 = x; y1 = std::log(r.x); m1 = z[i] / (r.df * r.x);
            }
        }
    }
}

namespace detail {

/// The branch rule.  kappa(z) - z is a Pick function on the physical sheet (kappa ~ z at infinity,
/// Im kappa >= Im z in the upper half plane; on the real axis outside the support
/// kappa' = 1/(1 - df2/N) >= 1), so Im kappa / Im z >= 1 there (measured >= 1.0002 on contours).
/// The other roots near the real axis (real kappa where z'(kappa) = 1 - df2/N < 0, continued off
/// the axis) have Im kappa / Im z < 0: a wrong-sign Im kappa is rejected whatever its size (the
/// old test forgave 1e-12 |kappa|, which let those roots pass at Im z = 1e-10).  When |Im z| is
/// below the resolution of Im kappa (8 eps |kappa|), z counts as real: kappa must be real with
/// F'(kappa) = 1 - df2/N > 0 (the physical real branch, outside the support); inside the support
/// the sign of Im kappa cannot be resolved there and the point is rejected (flagged).
inline bool on_physical_branch(cplx z, cplx kappa, cplx dF) noexcept {
    const double zi = z.imag(), ki = kappa.imag();
    if (std::abs(zi) >= 8 * eps * std::abs(kappa)) return ki / zi >= 0.5;
    return std::abs(ki) <= 1e-10 * std::abs(kappa) && dF.real() > 0 && (z.real() < 0 || kappa.real() > 0);
}

/// Continue the solution (za, ka) to zb along the straight segment (or along an arc of radius
/// |za| when `arc` is true), halving sub-steps on failure.  Returns the last accepted state.
struct Continuation {
    const SpectrumView& s;
    double N;
    KappaOptions opt;
    int newton_iterations = 0;
    double residual = NAN;
    cplx deriv{};
    bool ok = true;

    // Newton at z from the predictor; accept if converged and on the branch.
    bool try_point(cplx z, cplx start, cplx& kappa_out, cplx& deriv_out, double& res_out) {
        RootOptions ro;
        ro.ftol = opt.tol;
        ro.max_iter = std::min(opt.max_iter, 12);
        auto fdf = [&](cplx k) { return kappa_equation<cplx>(s, N, z, k); };
        RootResult<cplx> r = newton_complex(fdf, start, ro);
        newton_iterations += r.iterations;
        if (r.converged() && std::abs(z.imag()) < 1e-6 * std::abs(z) && r.df != cplx(0)) {
            // near the real axis Im kappa is tiny next to |kappa|: one more Newton step (evaluated,
            // kept only if its residual is no larger) takes it to the rounding floor, so the branch
            // rule below can trust its sign
            const cplx x1 = r.x - r.f / r.df;
            const Eval<cplx> e = fdf(x1);
            ++newton_iterations;
            if (is_finite(e.f) && is_finite(e.df) && detail::residual_of(e) <= r.residual) {
                r.x = x1; r.f = e.f; r.df = e.df; r.residual = detail::residual_of(e);
            }
        }
        if (!r.converged() || !on_physical_branch(z, r.x, r.df)) return false;
        kappa_out = r.x;
        deriv_out = cplx(1) / r.df;
        res_out = r.residual;
        return true;
    }

    // param(u) gives z at u in [0, 1] (u = 0: za, u = 1: zb)
    template <class Path>
    bool run(Path&& param, cplx& kappa, cplx& kderiv) {
        double u = 0, du = 1.0;
        cplx zcur = param(0.0);
        int substeps = 0;
        while (u < 1.0) {
            const double un = std::min(1.0, u + du);
            const cplx zn = param(un);
            const cplx pred = kappa + kderiv * (zn - zcur);
            cplx kn, dn;
            double rn;
            const bool good = try_point(zn, pred, kn, dn, rn) &&
                              std::abs(kn - pred) <= 0.25 * std::abs(kn - kappa) + 1e-3 * std::abs(kn);
            if (good) {
                u = un; zcur = zn; kappa = kn; kderiv = dn; residual = rn;
                du = std::min(1.0 - u, 2 * du);
                if (du <= 0) du = 1.0;
            } else {
                du *= 0.5;
                if (du < 1e-12 || ++substeps > 100000) { ok = false; return false; }
            }
        }
        return true;
    }
};

}  // namespace detail

/// Complex z: continue kappa along z[0], z[1], ... in order.  The first point is reached from
/// the real solution at |z[0]| along the arc of radius |z[0]|; a point the segment from its
/// predecessor cannot reach (a segment grazing a support edge near the real axis, Newton
/// failure, a flipped branch) is started afresh the same way; points neither reaches are marked
/// not converged and the path goes on from the last good point.
inline void solve_kappa_path(const SpectrumView& s, double N, std::span<const cplx> z,
                             const KappaOut& out, const KappaOptions& opt = {}) {
    check_N(N);
    require(opt.tol > 0, "tol must be > 0");
    require(opt.max_iter >= 1, "max_iter must be >= 1");
    const std::size_t n = z.size();
    for (std::size_t i = 0; i < n; ++i)
        require(is_finite(z[i]) && z[i] != cplx(0),
                [&] {
                    return "z must be finite and non-zero (got " + num(z[i].real()) + "+" +
                           num(z[i].imag()) + "j at flat index " + std::to_string(i) + ")";
                });
    if (n == 0) return;
    const double k0 = kappa0(s, N);

    // A start from the real axis: the real solution at r = |z_i|, continued along the arc of radius r.
    const KappaOptions real_opt{opt.tol, std::max(opt.max_iter, 200), opt.lattice_h};
    auto from_real_axis = [&](cplx zi, detail::Continuation& c, cplx& kappa, cplx& kderiv) {
        const double r0 = std::abs(zi);
        const RootResult<double> rr = solve_kappa_real_point(s, N, k0, r0, NAN, real_opt).root;
        c.newton_iterations += rr.iterations;
        if (!rr.converged()) return false;
        kappa = cplx(rr.x, 0.0);
        kderiv = cplx(1.0 / rr.df, 0.0);
        const double th = std::arg(zi);
        return c.run([&](double u) { return std::polar(r0, u * th); }, kappa, kderiv);
    };

    cplx kappa{}, kderiv{}, zstate{};
    bool have_state = false;
    for (std::size_t i = 0; i < n; ++i) {
        detail::Continuation c{s, N, opt};
        cplx k = kappa, kd = kderiv;
        bool ok = false;
        if (have_state) {  // continue from the previous point along the segment
            const cplx za = zstate, zb = z[i];
            ok = c.run([&](double u) { return za + u * (zb - za); }, k, kd);
        }
        if (!ok) {  // first point, or the segment failed (e.g. it grazes a support edge): start afresh
            c.ok = true;
            ok = from_real_axis(z[i], c, k, kd);
        }
        if (ok) {
            kappa = k;
            kderiv = kd;
            zstate = z[i];
            have_state = true;
        }
        out.value_re[i] = ok ? kappa.real() : NAN;
        out.value_im[i] = ok ? kappa.imag() : NAN;
        out.deriv_re[i] = ok ? kderiv.real() : NAN;
        out.deriv_im[i] = ok ? kderiv.imag() : NAN;
        out.converged[i] = ok ? 1 : 0;
        out.iterations[i] = c.newton_iterations;
        out.residual[i] = ok ? c.residual : NAN;
    }
}

/// kappa'(z) = 1 / (1 - df2(kappa)/N) at given kappa values.
template <class T>
inline T kappa_prime_at(const SpectrumView& s, double N, T kappa) noexcept {
    return T(1) / kappa_equation<T>(s, N, T(0), kappa).df;
}

}  // namespace lindiff
