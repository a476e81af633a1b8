// lindiff kernel: the one-call C++ API, parts that need Eigen (CMake target lindiff::eigen).
//
//   api::fixed_point(g, x0)   x = g(x) for any C++ callable, scalar (-> api::Result<double>) or
//                             Eigen vector (-> lindiff::FixedPointResult), by the kernel's
//                             solve_fixed_point (Anderson by default; Picard, Newton), the same
//                             solver as lindiff.solve_fixed_point in Python.
//
// Includes everything of <lindiff/api.hpp>.  Header-only, C++20, Eigen 3.4.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>
#include <utility>

#include "api.hpp"
#include "fixed_point.hpp"

namespace lindiff::api {

/// The fixed point x = g(x) of a scalar map, from x0.
///
/// g is any callable double -> double.  `value` is x (the last point at which g was evaluated),
/// `derivative` g'(x) by a central difference (two more calls of g; |g'(x)| < 1 for an attracting
/// fixed point), `residual` |g(x) - x| of the undamped map, `iterations` the outer iterations,
/// `message` the solver's ("converged", "iteration limit reached", ...).
template <class G>
    requires std::is_invocable_r_v<double, G&, double>
[[nodiscard]] Result<double> fixed_point(G&& g, double x0, const FixedPointOptions& opt = {}) {
    const VectorMap gm = [&g](const Vec& x) -> Vec {
        Vec y(1);
        y[0] = static_cast<double>(g(x[0]));
        return y;
    };
    Vec v(1);
    v[0] = x0;
    const FixedPointResult fr = lindiff::solve_fixed_point(gm, v, opt);
    Result<double> r;
    r.value = fr.x.size() == 1 ? fr.x[0] : NAN;
    r.converged = fr.converged;
    r.iterations = fr.iterations;
    r.residual = fr.residual;
    r.message = fr.message;
    if (std::isfinite(r.value)) {
        const double h = std::cbrt(eps) * std::max(1.0, std::abs(r.value));
        r.derivative = (static_cast<double>(g(r.value + h)) - static_cast<double>(g(r.value - h))) / (2 * h);
    }
    return r;
}

/// The fixed point x = g(x) of a vector map (Eigen::VectorXd -> Eigen::VectorXd), from x0.
/// Returns the kernel's FixedPointResult (x, g(x), converged, iterations, evaluations, residual
/// ||g(x) - x||_2, rel_residual, histories, message).  `jacobian` (optional, Newton only) returns
/// the n x n Jacobian of g; without it Newton uses finite differences.
template <class G>
    requires std::is_invocable_v<G&, const Vec&>
[[nodiscard]] FixedPointResult fixed_point(G&& g, const Vec& x0, const FixedPointOptions& opt = {},
                                           const std::optional<JacobianMap>& jacobian = std::nullopt) {
    const VectorMap gm = [&g](const Vec& x) -> Vec { return Vec(g(x)); };
    return lindiff::solve_fixed_point(gm, x0, opt, jacobian);
}

}  // namespace lindiff::api
