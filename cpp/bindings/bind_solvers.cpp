// The generic solver toolbox for Python callables and compiled callables.
//
// A Python callable is called through the interpreter (the GIL stays held).  A compiled one (a
// scipy.LowLevelCallable; lindiff.solvers turns numba cfuncs and ctypes function pointers into
// one) arrives as its PyCapsule (name = the C signature, pointer = the function, context = the
// user data) with its kind, decided in Python from the signature:
//   "scalar"       double f(double x)
//   "scalar_data"  double f(double x, void* user_data)
//   "vector"       void f(const double* x, double* out, intptr_t n)      (fixed points)
//   "vector_data"  void f(const double* x, double* out, intptr_t n, void* user_data)
// and the C++ loop calls the pointer directly, with the GIL released when every callable of the
// solve is compiled.
#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <lindiff/fixed_point.hpp>
#include <lindiff/roots.hpp>

#include "common.hpp"

namespace lindiff::bind {

namespace {

/// A C function pointer taken from a LowLevelCallable's capsule.
struct CompiledFn {
    void* fn = nullptr;
    void* data = nullptr;
    bool with_data = false;
    bool vector = false;

    static CompiledFn from(const py::object& capsule, const std::string& kind, const char* name) {
        PyObject* c = capsule.ptr();
        require(PyCapsule_CheckExact(c), [&] { return std::string(name) + ": a compiled callable must come as a PyCapsule"; });
        CompiledFn out;
        if (kind == "scalar") {
        } else if (kind == "scalar_data") {
            out.with_data = true;
        } else if (kind == "vector") {
            out.vector = true;
        } else if (kind == "vector_data") {
            out.vector = out.with_data = true;
        } else {
            throw std::invalid_argument(std::string(name) + ": unknown compiled-callable kind '" + kind + "'");
        }
        out.fn = PyCapsule_GetPointer(c, PyCapsule_GetName(c));
        if (!out.fn) throw py::error_already_set();
        out.data = PyCapsule_GetContext(c);
        if (!out.data && PyErr_Occurred()) throw py::error_already_set();
        return out;
    }

    double operator()(double x) const noexcept {
        return with_data ? reinterpret_cast<double (*)(double, void*)>(fn)(x, data)
                         : reinterpret_cast<double (*)(double)>(fn)(x);
    }

    void operator()(const double* x, double* y, std::intptr_t n) const noexcept {
        if (with_data)
            reinterpret_cast<void (*)(const double*, double*, std::intptr_t, void*)>(fn)(x, y, n, data);
        else
            reinterpret_cast<void (*)(const double*, double*, std::intptr_t)>(fn)(x, y, n);
    }
};

double call_scalar(const py::object& f, double x, const char* name) {
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
        [](py::object g, const Vec& x0, const std::string& method, double rtol, double atol,
           int max_iter, double damping, bool adaptive, int memory, double fd_step,
           std::optional<py::function> jac, const std::string& kind) {
            FixedPointOptions opt;
            opt.method = parse_fixed_point_method(method);
            opt.rtol = rtol;
            opt.atol = atol;
            opt.max_iter = max_iter;
            opt.damping = damping;
            opt.adaptive = adaptive;
            opt.memory = memory;
            opt.fd_step = fd_step;
            VectorMap gm;
            const bool compiled = kind != "python";
            if (compiled) {
                const CompiledFn cf = CompiledFn::from(g, kind, "f");
                if (cf.vector) {
                    gm = [cf](const Vec& x) -> Vec {
                        Vec y(x.size());
                        y.setConstant(NAN);  // a callee that writes nothing reads as non-finite
                        cf(x.data(), y.data(), static_cast<std::intptr_t>(x.size()));
                        return y;
                    };
                } else {
                    require(x0.size() == 1, "f: a scalar compiled callable needs a scalar x0");
                    gm = [cf](const Vec& x) -> Vec { return Vec::Constant(1, cf(x[0])); };
                }
            } else {
                py::function gf = py::reinterpret_borrow<py::function>(g);
                gm = [gf](const Vec& x) -> Vec {
                    py::object r = gf(Vec(x));
                    return r.cast<Vec>();
                };
            }
            std::optional<JacobianMap> jm;
            if (jac) {
                py::function jf = *jac;
                jm = [jf, compiled](const Vec& x) -> Mat {
                    if (!compiled) return jf(Vec(x)).cast<Mat>();
                    py::gil_scoped_acquire gil;  // a Python Jacobian next to a compiled f
                    return jf(Vec(x)).cast<Mat>();
                };
            }
            FixedPointResult r;
            if (compiled) {
                py::gil_scoped_release release;
                r = solve_fixed_point(gm, x0, opt, jm);
            } else {
                r = solve_fixed_point(gm, x0, opt, jm);
            }
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
        py::arg("jac") = py::none(), py::arg("kind") = "python",
        "Solve x = f(x); f is a Python callable (kind 'python') or a LowLevelCallable's capsule\n"
        "(kind 'scalar', 'scalar_data', 'vector', 'vector_data'); returns a dict of diagnostics.");

    m.def(
        "find_root",
        [](py::object f, py::object fprime, double lo, double hi, double x0, double ftol, double xtol,
           int max_iter, const std::string& kind, const std::string& fprime_kind) {
            RootOptions opt;
            opt.ftol = ftol;
            opt.xtol = xtol;
            opt.max_iter = max_iter;
            int extra = 0;
            const bool have_fprime = !fprime.is_none();
            const bool f_compiled = kind != "python";
            const bool fp_compiled = have_fprime && fprime_kind != "python";
            CompiledFn cf, cfp;
            if (f_compiled) cf = CompiledFn::from(f, kind, "f");
            if (fp_compiled) cfp = CompiledFn::from(fprime, fprime_kind, "fprime");
            require(!cf.vector && !cfp.vector, "find_root: f and fprime must be scalar functions");
            auto fval = [&](double x) { return f_compiled ? cf(x) : call_scalar(f, x, "f"); };
            auto fdf = [&](double x) -> Eval<double> {
                const double fx = fval(x);
                double dfx;
                if (have_fprime) {
                    dfx = fp_compiled ? cfp(x) : call_scalar(fprime, x, "fprime");
                } else {
                    const double h = std::cbrt(eps) * std::max(1.0, std::abs(x));
                    dfx = (fval(x + h) - fval(x - h)) / (2 * h);
                    extra += 2;
                }
                return {fx, dfx, 0.0};
            };
            RootResult<double> r;
            if (f_compiled && (!have_fprime || fp_compiled)) {
                py::gil_scoped_release release;  // no interpreter in the loop
                r = newton_bracketed(fdf, lo, hi, x0, 0, opt);
            } else {
                r = newton_bracketed(fdf, lo, hi, x0, 0, opt);
            }
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
        py::arg("kind") = "python", py::arg("fprime_kind") = "python",
        "Safeguarded bracketed Newton; f, fprime are Python callables (kind 'python') or\n"
        "LowLevelCallable capsules (kind 'scalar' or 'scalar_data'); returns a dict of diagnostics.");
}

}  // namespace lindiff::bind
