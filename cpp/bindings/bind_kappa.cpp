// kappa(z): real batch solve, complex path continuation, kappa0, kappa'.
#include <pybind11/stl.h>

#include <lindiff/kappa.hpp>

#include "common.hpp"

namespace lindiff::bind {

void register_kappa(py::module_& m) {
    m.def(
        "kappa0",
        [](darray lam, std::optional<darray> w, double N) {
            PySpectrum sp(std::move(lam), std::move(w));
            py::gil_scoped_release release;
            return kappa0(sp.view, N);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"),
        "kappa0: 0 for N >= d, else the root of df1(kappa0) = N.");

    m.def(
        "solve_kappa_real",
        [](darray lam, std::optional<darray> w, double N, darray z, double tol, int max_iter,
           double lattice_h) {
            return call_kappa_real(
                [](const SpectrumView& s, double n, std::span<const double> zz, const KappaOut& o,
                   const KappaOptions& opt) { lindiff::solve_kappa_real(s, n, zz, o, opt); },
                std::move(lam), std::move(w), N, std::move(z), tol, max_iter, lattice_h);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("z"),
        py::arg("tol") = 1e-14, py::arg("max_iter") = 100, py::arg("lattice_h") = 0.1,
        "Physical root kappa >= max(z, kappa0) for each real z > 0 (flat array).\n"
        "Returns (value, kappa', converged, iterations, residual, sums) with sums (n, 4) = S1, df1, df2, e12.");

    m.def(
        "solve_kappa_curves",
        [](darray lam, std::optional<darray> w, darray N, darray z, double tol, int max_iter) {
            require(z.ndim() == 2 && N.ndim() == 1 && z.shape(0) == N.size(),
                    "z must be 2-D with one row per N");
            const auto n_points = static_cast<std::size_t>(z.shape(1));
            darray Nc = N;
            return call_kappa_real(
                [&](const SpectrumView& s, double, std::span<const double> zz, const KappaOut& o,
                    const KappaOptions& opt) { solve_kappa_curves(s, span_of(Nc), zz, n_points, o, opt); },
                std::move(lam), std::move(w), 1.0, std::move(z), tol, max_iter, 0.1);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("z"), py::arg("tol") = 1e-14,
        py::arg("max_iter") = 100,
        "kappa along curves: z has shape (len(N), n_points); continuation along each row.\n"
        "Returns flat (value, kappa', converged, iterations, residual, sums (n, 4)).");

    m.def(
        "solve_kappa_path",
        [](darray lam, std::optional<darray> w, double N, carray z, double tol, int max_iter) {
            PySpectrum sp(std::move(lam), std::move(w));
            const auto n = static_cast<py::ssize_t>(z.size());
            std::vector<double> vr(n), vi(n), dr(n), di(n);
            py::array_t<double> residual(n);
            py::array_t<bool> converged(n);
            py::array_t<std::int32_t> iterations(n);
            KappaOut out{vr, vi, dr, di,
                         {reinterpret_cast<std::uint8_t*>(converged.mutable_data()), static_cast<std::size_t>(n)},
                         mut_span(iterations), mut_span(residual)};
            KappaOptions opt{tol, max_iter, 0.1};
            {
                py::gil_scoped_release release;
                solve_kappa_path(sp.view, N, span_of(z), out, opt);
            }
            py::array_t<cplx> value(n), deriv(n);
            auto v = mut_span(value), d = mut_span(deriv);
            for (py::ssize_t i = 0; i < n; ++i) {
                v[i] = cplx(vr[i], vi[i]);
                d[i] = cplx(dr[i], di[i]);
            }
            return py::make_tuple(value, deriv, converged, iterations, residual);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("z"),
        py::arg("tol") = 1e-14, py::arg("max_iter") = 100,
        "Continue kappa along complex z in order (branch kappa ~ z at infinity).\n"
        "Returns (value, kappa', converged, iterations, residual).");
}

}  // namespace lindiff::bind
