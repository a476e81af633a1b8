// Shared helpers of the pybind11 translation units (not part of the kernel).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <lindiff/kappa.hpp>
#include <optional>

namespace py = pybind11;

namespace lindiff::bind {

using darray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using carray = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>;

inline std::span<const double> span_of(const darray& a) {
    return {a.data(), static_cast<std::size_t>(a.size())};
}
inline std::span<const cplx> span_of(const carray& a) {
    return {a.data(), static_cast<std::size_t>(a.size())};
}
template <class T>
inline std::span<T> mut_span(py::array_t<T>& a) {
    return {a.mutable_data(), static_cast<std::size_t>(a.size())};
}

/// A validated spectrum holding its arrays alive.
struct PySpectrum {
    darray lam;
    darray w;
    SpectrumView view;
    PySpectrum(darray eigenvalues, std::optional<darray> weights)
        : lam(std::move(eigenvalues)), w(weights ? std::move(*weights) : darray()) {
        require(lam.ndim() == 1, "eigenvalues must be one-dimensional");
        if (weights) require(w.ndim() == 1, "weights must be one-dimensional");
        view = SpectrumView(span_of(lam), weights ? span_of(w) : std::span<const double>{});
    }
};

/// A spectrum validated once and held by lindiff.Spectrum (as `_core.SpectrumCore`): calls
/// through it skip the per-call conversion and validation of the arrays, and share the
/// memoised kappa0 and lattice nodes of its KappaCache (bitwise the uncached results).
struct SpectrumCore {
    PySpectrum sp;
    KappaCache cache;
    SpectrumCore(darray eigenvalues, std::optional<darray> weights) : sp(std::move(eigenvalues), std::move(weights)) {}
    [[nodiscard]] const SpectrumView& view() const noexcept { return sp.view; }
};

/// Call a real-z kappa batch solver (CPU or GPU: same signature) on numpy arrays and return
/// (value, kappa', converged, iterations, residual, sums (n x 4: S1, df1, df2, e12)).
template <class Solver>
py::tuple call_kappa_real_view(Solver&& solver, const SpectrumView& view, double N, darray z, double tol,
                               int max_iter, double lattice_h) {
    const auto n = static_cast<py::ssize_t>(z.size());
    py::array_t<double> value(n), deriv(n), residual(n), sums({n, py::ssize_t(4)});
    py::array_t<bool> converged(n);
    py::array_t<std::int32_t> iterations(n);
    KappaOut out{mut_span(value), {}, mut_span(deriv), {},
                 {reinterpret_cast<std::uint8_t*>(converged.mutable_data()), static_cast<std::size_t>(n)},
                 mut_span(iterations), mut_span(residual), mut_span(sums)};
    KappaOptions opt{tol, max_iter, lattice_h};
    {
        py::gil_scoped_release release;
        solver(view, N, span_of(z), out, opt);
    }
    return py::make_tuple(value, deriv, converged, iterations, residual, sums);
}

template <class Solver>
py::tuple call_kappa_real(Solver&& solver, darray lam, std::optional<darray> w, double N, darray z,
                          double tol, int max_iter, double lattice_h) {
    PySpectrum sp(std::move(lam), std::move(w));
    return call_kappa_real_view(std::forward<Solver>(solver), sp.view, N, std::move(z), tol, max_iter, lattice_h);
}

void register_spectrum(py::module_& m);
void register_kappa(py::module_& m);
void register_solvers(py::module_& m);
void register_sampler(py::module_& m);
void register_contour(py::module_& m);
void register_simulate(py::module_& m);
void register_lapack(py::module_& m);
void register_memorization(py::module_& m);

}  // namespace lindiff::bind
