// The generic solver toolbox for Python callables (the GIL stays held: the callables are Python).
#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <lindiff/fixed_point.hpp>
#include <lindiff/roots.hpp>

#include "common.hpp"

namespace lindiff::bind {

namespace {

double call_scalar(const py::function& f, double x, const char* name) {
    py::object r = f(x);
    double v;
    try {
        v = r.cast<double>();
    } catch (const py::cast_error&) {
        throw std::invalid_argument(std::string(name) + " must return a real scalar");
    }
    return v;
}

}  // namespace

void register_solvers(py::module_& m) {
    m.def(
        "solve_fixed_point",
        [](py::function g, const Vec& x0, const std::string& method, double rtol, double atol,
           int max_iter, double damping, bool adaptive, int memory, double fd_step,
           std::optional<py::function> jac) {
            FixedPointOptions opt;
            opt.method = parse_fixed_point_method(method);
            opt.rtol = rtol;
            opt.atol = atol;
            opt.max_iter = max_iter;
            opt.damping = damping;
            opt.adaptive = adaptive;
            opt.memory = memory;
            opt.fd_step = fd_step;
            VectorMap gm = [&](const Vec& x) -> Vec {
                py::object r = g(Vec(x));
                return r.cast<Vec>();
            };
            std::optional<JacobianMap> jm;
            if (jac) {
                py::function jf = *jac;
                jm = [jf](const Vec& x) -> Mat { return jf(Vec(x)).cast<Mat>(); };
            }
            const FixedPointResult r = solve_fixed_point(gm, x0, opt, jm);
            py::dict d;
            d["x"] = r.x;
            d["fx"] = r.gx;
            d["converged"] = r.converged;
            d["iterations"] = r.iterations;
            d["evaluations"] = r.evaluations;
            d["jacobian_evaluations"] = r.jacobian_evaluations;
            d["residual"] = r.residual;
            d["rel_residual"] = r.rel_residual;
            d["residual_history"] = r.residual_history;
            d["damping_history"] = r.damping_history;
            d["message"] = r.message;
            return d;
        },
        py::arg("f"), py::arg("x0"), py::arg("method") = "anderson", py::arg("rtol") = 1e-12,
        py::arg("atol") = 0.0, py::arg("max_iter") = 500, py::arg("damping") = 1.0,
        py::arg("adaptive") = true, py::arg("memory") = 5, py::arg("fd_step") = 0.0,
        py::arg("jac") = py::none(), "Solve x = f(x); returns a dict of diagnostics.");

    m.def(
        "find_root",
        [](py::function f, std::optional<py::function> fprime, double lo, double hi, double x0,
           double ftol, double xtol, int max_iter) {
            RootOptions opt;
            opt.ftol = ftol;
            opt.xtol = xtol;
            opt.max_iter = max_iter;
            int extra = 0;
            auto fdf = [&](double x) -> Eval<double> {
                const double fx = call_scalar(f, x, "f");
                double dfx;
                if (fprime) {
                    dfx = call_scalar(*fprime, x, "fprime");
                } else {
                    const double h = std::cbrt(eps) * std::max(1.0, std::abs(x));
                    dfx = (call_scalar(f, x + h, "f") - call_scalar(f, x - h, "f")) / (2 * h);
                    extra += 2;
                }
                return {fx, dfx, 0.0};
            };
            const RootResult<double> r = newton_bracketed(fdf, lo, hi, x0, 0, opt);
            py::dict d;
            d["x"] = r.x;
            d["f"] = r.f;
            d["fprime"] = r.df;
            d["residual"] = r.residual;
            d["converged"] = r.converged();
            d["iterations"] = r.iterations;
            d["evaluations"] = r.iterations + extra;
            d["bisections"] = r.bisections;
            d["message"] = std::string(to_string(r.status));
            return d;
        },
        py::arg("f"), py::arg("fprime"), py::arg("lo"), py::arg("hi"), py::arg("x0"),
        py::arg("ftol") = 1e-14, py::arg("xtol") = 4 * eps, py::arg("max_iter") = 100,
        "Safeguarded bracketed Newton; returns a dict of diagnostics.");
}

}  // namespace lindiff::bind
