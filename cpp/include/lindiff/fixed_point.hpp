// lindiff kernel: vector fixed-point solvers for x = g(x).
//
//   picard    damped Picard  x <- (1 - a) x + a g(x), with adaptive damping a
//   anderson  Anderson acceleration (type II, memory m) with damping and restarts
//   newton    Newton on F(x) = g(x) - x with a supplied or finite-difference Jacobian of g,
//             backtracking line search on ||F||
//
// Every method reports the residual of the *undamped* map, ||g(x) - x||, at the returned x (the
// last point at which g was evaluated), never the size of a damped step.
#pragma once

#include <Eigen/Dense>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace lindiff {

using Vec = Eigen::VectorXd;
using Mat = Eigen::MatrixXd;

enum class FixedPointMethod : int { picard = 0, anderson = 1, newton = 2 };

inline FixedPointMethod parse_fixed_point_method(const std::string& name) {
    if (name == "picard") return FixedPointMethod::picard;
    if (name == "anderson") return FixedPointMethod::anderson;
    if (name == "newton") return FixedPointMethod::newton;
    throw std::invalid_argument("method must be one of 'picard', 'anderson', 'newton' (got '" + name + "')");
}

struct FixedPointOptions {
    FixedPointMethod method = FixedPointMethod::anderson;
    double rtol = 1e-12;      // converged when ||g(x) - x|| <= atol + rtol ||x||
    double atol = 0.0;
    int max_iter = 500;       // outer iterations
    double damping = 1.0;     // initial damping a in (0, 1]
    bool adaptive = true;     // adapt the damping (picard/anderson) from the residual history
    int memory = 5;           // Anderson memory m
    double fd_step = 0.0;     // finite-difference step for the Newton Jacobian (0: sqrt(eps) scaled)
};

struct FixedPointResult {
    Vec x;
    Vec gx;                            // g at x (the undamped map)
    bool converged = false;
    int iterations = 0;                // outer iterations
    int evaluations = 0;               // calls of g (including finite differences)
    int jacobian_evaluations = 0;
    double residual = NAN;             // ||g(x) - x||_2 at the returned x
    double rel_residual = NAN;         // residual / max(||x||_2, tiny)
    std::vector<double> residual_history;
    std::vector<double> damping_history;  // damping (picard/anderson) or line-search step (newton)
    std::string message;
};

using VectorMap = std::function<Vec(const Vec&)>;
using JacobianMap = std::function<Mat(const Vec&)>;

namespace detail {

struct FpState {
    const VectorMap& g;
    const FixedPointOptions& opt;
    FixedPointResult& r;
    Vec eval(const Vec& x) {
        Vec y = g(x);
        ++r.evaluations;
        require(y.size() == x.size(), [&] {
            return "f must return a vector of the same length as x0 (got " + std::to_string(y.size()) +
                   ", expected " + std::to_string(x.size()) + ")";
        });
        return y;
    }
    // Norms are overflow-safe (scaled: stableNorm), and a test that is not finite never passes
    // (an overflowed ||F|| <= rtol ||x|| used to read inf <= inf as converged).
    [[nodiscard]] bool done(const Vec& x, const Vec& F) const {
        const double f = F.stableNorm(), bound = opt.atol + opt.rtol * x.stableNorm();
        return std::isfinite(f) && std::isfinite(bound) && f <= bound;
    }
    void record(const Vec& x, const Vec& gx) {
        r.x = x;
        r.gx = gx;
        r.residual = (gx - x).stableNorm();
        r.rel_residual = r.residual / std::max(x.stableNorm(), std::numeric_limits<double>::min());
        r.residual_history.push_back(r.residual);
    }
};

inline bool all_finite(const Vec& v) { return v.allFinite(); }

}  // namespace detail

inline FixedPointResult solve_fixed_point(const VectorMap& g, const Vec& x0,
                                          const FixedPointOptions& opt = {},
                                          const std::optional<JacobianMap>& jac = std::nullopt) {
    require(x0.size() > 0, "x0 must not be empty");
    require(x0.allFinite(), "x0 must be finite");
    require(opt.max_iter >= 1, "max_iter must be >= 1");
    require(opt.rtol >= 0 && opt.atol >= 0 && (opt.rtol > 0 || opt.atol > 0),
            "tolerances must be >= 0 and not both 0");
    require(opt.damping > 0 && opt.damping <= 1, "damping must be in (0, 1]");
    require(opt.memory >= 1, "memory must be >= 1");

    FixedPointResult r;
    detail::FpState st{g, opt, r};
    const Eigen::Index n = x0.size();
    Vec x = x0;
    Vec gx = st.eval(x);
    if (!detail::all_finite(gx)) {
        st.record(x, gx);
        r.message = "f returned a non-finite value at x0";
        return r;
    }
    st.record(x, gx);
    double a = opt.damping;

    // Anderson history: differences of F = g(x) - x and of g(x)
    std::vector<Vec> dF, dG;
    Vec F = gx - x;

    for (int it = 0; it < opt.max_iter; ++it) {
        if (st.done(x, F)) {
            r.converged = true;
            r.message = "converged";
            return r;
        }
        r.iterations = it + 1;
        Vec xn;
        if (opt.method == FixedPointMethod::newton) {
            Mat J;
            if (jac) {
                J = (*jac)(x);
                require(J.rows() == n && J.cols() == n, "jac must return an n x n matrix");
            } else {
                J.resize(n, n);
                for (Eigen::Index j = 0; j < n; ++j) {
                    const double h = opt.fd_step > 0 ? opt.fd_step
                                                     : std::sqrt(eps) * std::max(1.0, std::abs(x[j]));
                    Vec xp = x;
                    xp[j] += h;
                    J.col(j) = (st.eval(xp) - gx) / h;
                }
            }
            ++r.jacobian_evaluations;
            J -= Mat::Identity(n, n);  // Jacobian of F = g - id
            const Vec dx = J.fullPivLu().solve(-F);
            if (!dx.allFinite()) { r.message = "singular Jacobian"; return r; }
            // backtracking line search on ||F||
            double step = 1.0;
            const double f0 = F.stableNorm();
            Vec gtrial;
            for (int ls = 0; ls < 30; ++ls) {
                xn = x + step * dx;
                gtrial = st.eval(xn);
                if (detail::all_finite(gtrial) && (gtrial - xn).stableNorm() <= (1 - 1e-4 * step) * f0) break;
                step *= 0.5;
            }
            r.damping_history.push_back(step);
            if (!detail::all_finite(gtrial)) { r.message = "f returned a non-finite value"; return r; }
            x = xn;
            gx = gtrial;
            F = gx - x;
            st.record(x, gx);
            continue;
        }

        if (opt.method == FixedPointMethod::picard) {
            xn = x + a * F;
        } else {  // Anderson type II
            if (dF.empty()) {
                xn = x + a * F;
            } else {
                const Eigen::Index m = static_cast<Eigen::Index>(dF.size());
                Mat DF(n, m), DG(n, m);
                for (Eigen::Index j = 0; j < m; ++j) { DF.col(j) = dF[j]; DG.col(j) = dG[j]; }
                const Vec gamma = DF.completeOrthogonalDecomposition().solve(F);
                xn = (x + a * F) - (DG - (1 - a) * DF) * gamma;
                // note: x + F = g(x); x_{k+1} = g - DG gamma - (1 - a)(F - DF gamma)
            }
        }
        r.damping_history.push_back(a);
        Vec gn = st.eval(xn);
        if (!detail::all_finite(gn)) {
            // back off: plain damped step from x with a smaller damping, history cleared
            dF.clear(); dG.clear();
            a *= 0.5;
            if (a < 1e-8) { r.message = "f returned a non-finite value"; return r; }
            continue;
        }
        Vec Fn = gn - xn;
        const double fn = Fn.stableNorm(), fo = F.stableNorm();
        if (opt.method == FixedPointMethod::anderson) {
            dF.push_back(Fn - F);
            dG.push_back(gn - gx);
            if (static_cast<int>(dF.size()) > opt.memory) { dF.erase(dF.begin()); dG.erase(dG.begin()); }
            if (fn > 10 * fo) { dF.clear(); dG.clear(); }  // restart on blow-up
        }
        if (opt.adaptive) {
            if (fn > fo) a = std::max(0.5 * a, 1e-6);
            else if (fn < 0.5 * fo) a = std::min(1.0, 1.5 * a);
        }
        x = xn; gx = gn; F = Fn;
        st.record(x, gx);
    }
    if (st.done(x, F)) { r.converged = true; r.message = "converged"; return r; }
    r.message = "iteration limit reached";
    return r;
}

}  // namespace lindiff
