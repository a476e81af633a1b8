// lindiff kernel: scalar root finding.
//
//   newton_bracketed  safeguarded Newton on a real bracket [lo, hi] (bisection fallback,
//                     geometric bisection when the bracket spans orders of magnitude)
//   newton_complex    plain Newton on a complex scalar (used inside path continuation)
//
// The user's callable returns an Eval: the function value f, its derivative df, and optionally a
// positive `scale` so that |f| / scale is a *relative* (backward-error) residual; with scale = 0
// the residual is |f| itself.  A result always refers to a point at which f was evaluated, so the
// residual reported is the true residual of the value returned, never a prediction.
#pragma once

#include <algorithm>
#include <cmath>

#include "common.hpp"

namespace lindiff {

template <class T>
struct Eval {
    T f;
    T df;
    double scale = 0.0;  // > 0: residual = |f| / scale; 0: residual = |f|
};

struct RootOptions {
    double ftol = 1e-14;   // converged when the residual is <= ftol
    double xtol = 4 * eps; // ... or when the Newton step is <= xtol * |x| (rounding floor)
    int max_iter = 100;
};

enum class RootStatus : int {
    converged = 0,      // residual <= ftol
    step_floor = 1,     // Newton step below xtol * |x| (residual at the floating-point floor)
    max_iter = 2,       // iteration limit reached
    bad_value = 3,      // f or df was not finite
    bad_bracket = 4,    // bracket invalid (lo >= hi or not a sign change)
};

inline const char* to_string(RootStatus s) noexcept {
    switch (s) {
        case RootStatus::converged: return "converged";
        case RootStatus::step_floor: return "converged (step at rounding floor)";
        case RootStatus::max_iter: return "iteration limit reached";
        case RootStatus::bad_value: return "non-finite function value";
        case RootStatus::bad_bracket: return "invalid bracket";
    }
    return "unknown";
}

template <class T>
struct RootResult {
    T x{};
    T f{};                  // function value at x
    T df{};                 // derivative at x (free: x was evaluated)
    double residual = NAN;  // residual at x (relative when the callable gives a scale)
    int iterations = 0;     // function evaluations
    int bisections = 0;     // safeguard steps taken instead of Newton steps
    RootStatus status = RootStatus::max_iter;
    LINDIFF_HD_ANY_TYPE
    [[nodiscard]] LINDIFF_HD bool converged() const noexcept {
        return status == RootStatus::converged || status == RootStatus::step_floor;
    }
};

namespace detail {
LINDIFF_HD_ANY_TYPE
template <class T>
LINDIFF_HD inline double residual_of(const Eval<T>& e) noexcept {
    // an overflowed scale certifies nothing (|f| / inf = 0 would read as converged)
    if (!(e.scale < std::numeric_limits<double>::infinity())) return std::numeric_limits<double>::infinity();
    return e.scale > 0 ? std::abs(e.f) / e.scale : std::abs(e.f);
}
}  // namespace detail

/// Safeguarded Newton for a real root in [lo, hi].
///
/// `sign_lo` is the sign of f(lo) when the caller knows it (+1 or -1; f(hi) has the other sign);
/// 0 makes the solver evaluate both ends.  x0 is the first guess (clamped into the bracket).
/// Each Newton step that leaves the open bracket, or fails to halve the bracket over two steps,
/// is replaced by a bisection (geometric when 0 < lo and hi / lo > 4).
template <class F>
LINDIFF_HD RootResult<double> newton_bracketed(F&& fdf, double lo, double hi, double x0, int sign_lo = 0,
                                    const RootOptions& opt = {}) {
    RootResult<double> r;
    if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi)) {
        r.status = RootStatus::bad_bracket;
        return r;
    }
    if (sign_lo == 0) {
        const Eval<double> elo = fdf(lo), ehi = fdf(hi);
        r.iterations += 2;
        if (!std::isfinite(elo.f) || !std::isfinite(ehi.f)) { r.status = RootStatus::bad_value; return r; }
        if (elo.f == 0) { r.x = lo; r.df = elo.df; r.residual = 0; r.status = RootStatus::converged; return r; }
        if (ehi.f == 0) { r.x = hi; r.df = ehi.df; r.residual = 0; r.status = RootStatus::converged; return r; }
        if ((elo.f > 0) == (ehi.f > 0)) { r.status = RootStatus::bad_bracket; return r; }
        sign_lo = elo.f < 0 ? -1 : 1;
    }
    auto bisect = [&]() {
        if (lo > 0 && hi > 4 * lo) return std::sqrt(lo) * std::sqrt(hi);
        return 0.5 * lo + 0.5 * hi;  // hi - lo may overflow (lo = -1e308, hi = 1e308)
    };
    double x = (std::isfinite(x0) && x0 > lo && x0 < hi) ? x0 : bisect();
    // Brent-style safeguard: a Newton step must at least halve every two iterations.
    double step_prev1 = std::numeric_limits<double>::infinity(), step_prev2 = step_prev1;
    double res_prev = std::numeric_limits<double>::infinity();
    for (int it = 0; it < opt.max_iter; ++it) {
        const Eval<double> e = fdf(x);
        ++r.iterations;
        if (!std::isfinite(e.f) || !std::isfinite(e.df)) {
            r.x = x; r.status = RootStatus::bad_value; return r;
        }
        const double res = detail::residual_of(e);
        r.x = x; r.f = e.f; r.df = e.df; r.residual = res;
        if (res <= opt.ftol || e.f == 0) { r.status = RootStatus::converged; return r; }
        // shrink the bracket with the sign of f(x)
        if ((e.f < 0) == (sign_lo < 0)) lo = x; else hi = x;
        const double step = (e.df != 0) ? -e.f / e.df : NAN;
        if (std::isfinite(step) && std::abs(step) <= opt.xtol * std::abs(x)) {
            r.status = RootStatus::step_floor; return r;
        }
        // stagnation close to the tolerance: rounding noise dominates the residual
        if (res <= 1e2 * opt.ftol && res >= 0.5 * res_prev) { r.status = RootStatus::step_floor; return r; }
        if (hi - lo <= opt.xtol * std::max(std::abs(lo), std::abs(hi))) {
            // bracket collapsed to rounding: x is as good as double precision allows
            r.status = RootStatus::step_floor; return r;
        }
        res_prev = res;
        double xn = x + step;
        double taken = std::abs(step);
        if (!std::isfinite(xn) || xn <= lo || xn >= hi || taken > 0.5 * step_prev2) {
            xn = bisect();
            taken = std::abs(xn - x);
            ++r.bisections;
        }
        step_prev2 = step_prev1;
        step_prev1 = taken;
        x = xn;
    }
    r.status = RootStatus::max_iter;
    return r;
}

/// Plain Newton for a complex scalar root from x0 (no globalisation; callers continue along
/// a path and shrink their steps on failure).
template <class F>
RootResult<cplx> newton_complex(F&& fdf, cplx x0, const RootOptions& opt = {}) {
    RootResult<cplx> r;
    cplx x = x0;
    double res_prev = std::numeric_limits<double>::infinity();
    for (int it = 0; it < opt.max_iter; ++it) {
        const Eval<cplx> e = fdf(x);
        ++r.iterations;
        if (!is_finite(e.f) || !is_finite(e.df)) { r.x = x; r.status = RootStatus::bad_value; return r; }
        const double res = detail::residual_of(e);
        r.x = x; r.f = e.f; r.df = e.df; r.residual = res;
        if (res <= opt.ftol || e.f == cplx(0)) { r.status = RootStatus::converged; return r; }
        if (e.df == cplx(0)) { r.status = RootStatus::bad_value; return r; }
        const cplx step = -e.f / e.df;
        if (std::abs(step) <= opt.xtol * std::abs(x)) { r.status = RootStatus::step_floor; return r; }
        if (res <= 1e2 * opt.ftol && res >= 0.5 * res_prev) { r.status = RootStatus::step_floor; return r; }
        res_prev = res;
        x += step;
    }
    r.status = RootStatus::max_iter;
    return r;
}

}  // namespace lindiff
