// Spectrum sums df1, df2 over arrays of real or complex kappa.
#include <pybind11/stl.h>

#include "common.hpp"

namespace lindiff::bind {

namespace {

template <class T, class A>
py::tuple df12_array(const PySpectrum& sp, const A& kappa) {
    py::array_t<T> df1(kappa.size()), df2(kappa.size());
    auto k = span_of(kappa);
    auto o1 = mut_span(df1), o2 = mut_span(df2);
    for (std::size_t i = 0; i < k.size(); ++i)
        require(is_finite(k[i]), [&] {
            return "kappa must be finite (got a non-finite value at flat index " + std::to_string(i) + ")";
        });
    {
        py::gil_scoped_release release;
        const std::int64_t n = static_cast<std::int64_t>(k.size());
#pragma omp parallel for schedule(static) if (parallel_pays(static_cast<double>(n) * static_cast<double>(sp.view.size())))
        for (std::int64_t i = 0; i < n; ++i) {
            const auto p = df12(sp.view, k[i]);
            o1[i] = p.df1;
            o2[i] = p.df2;
        }
    }
    return py::make_tuple(df1, df2);
}

}  // namespace

void register_spectrum(py::module_& m) {
    m.def(
        "spectrum_summary",
        [](darray lam, std::optional<darray> w) {
            PySpectrum sp(std::move(lam), std::move(w));
            py::dict d;
            d["d"] = sp.view.d;
            d["trace"] = sp.view.trace;
            d["lambda_min"] = sp.view.lambda_min;
            d["lambda_max"] = sp.view.lambda_max;
            return d;
        },
        py::arg("eigenvalues"), py::arg("weights") = py::none(),
        "Validate a spectrum and return d, trace, lambda_min, lambda_max.");
    m.def(
        "df12",
        [](darray lam, std::optional<darray> w, darray kappa) {
            return df12_array<double>(PySpectrum(std::move(lam), std::move(w)), kappa);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("kappa"),
        "(df1, df2) at real kappa (flat arrays).");
    m.def(
        "df12_complex",
        [](darray lam, std::optional<darray> w, carray kappa) {
            return df12_array<cplx>(PySpectrum(std::move(lam), std::move(w)), kappa);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("kappa"),
        "(df1, df2) at complex kappa (flat arrays).");
}

}  // namespace lindiff::bind
