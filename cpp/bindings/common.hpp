// Shared helpers of the pybind11 translation units (not part of the kernel).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <lindiff/spectrum.hpp>

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

void register_spectrum(py::module_& m);
void register_kappa(py::module_& m);
void register_solvers(py::module_& m);

}  // namespace lindiff::bind
