// Spectrum sums df1, df2 over arrays of real or complex kappa.
#include <pybind11/stl.h>

#include <lindiff/compress_bound.hpp>

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
        "ellipse_tables",
        [](carray kappa, double center, double half, std::size_t n_rho, std::size_t n_phi) {
            require(kappa.ndim() == 1, "kappa must be 1-dimensional");
            require(half > 0 && n_rho >= 2 && n_phi >= 2, "half > 0, n_rho >= 2 and n_phi >= 2 required");
            const auto K = static_cast<py::ssize_t>(kappa.size());
            py::array_t<double> rho({K, static_cast<py::ssize_t>(n_rho)}), M({K, static_cast<py::ssize_t>(n_rho)});
            {
                py::gil_scoped_release release;
                ellipse_tables(kappa.data(), kappa.size(), center, half, n_rho, n_phi, rho.mutable_data(), M.mutable_data());
            }
            return py::make_tuple(rho, M);
        },
        py::arg("kappa"), py::arg("center"), py::arg("half"), py::arg("n_rho"), py::arg("n_phi"),
        "Ellipse parameters below the nearest pole and max |1/(1 + kappa e^-u)| on each (compression bound tables).");
    m.def(
        "df12_pairwise",
        [](darray lam, std::optional<darray> w, carray kappa) {
            require(!w || w->size() == lam.size(), "weights must have the length of eigenvalues");
            const auto K = static_cast<py::ssize_t>(kappa.size());
            py::array_t<cplx> f1(K), f2(K);
            {
                py::gil_scoped_release release;
                const double* wp = w ? w->data() : nullptr;
                for (py::ssize_t k = 0; k < K; ++k) {
                    const cplx kk = kappa.data()[k];
                    std::array<cplx, 2> r;
                    if (kk.imag() == 0.0) {
                        const std::array<double, 2> a = df12_pairwise(lam.data(), wp, lam.size(), kk.real());
                        r = {a[0], a[1]};
                    } else {
                        r = df12_pairwise(lam.data(), wp, lam.size(), kk);
                    }
                    f1.mutable_data()[k] = r[0];
                    f2.mutable_data()[k] = r[1];
                }
            }
            return py::make_tuple(f1, f2);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("kappa"),
        "(df1, df2) by lambda/(lambda + kappa) with pairwise sums (the compression's reference).");
    m.def(
        "segment_jacobi",
        [](darray y, darray w, py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> starts, int n) {
            require(y.ndim() == 1 && w.size() == y.size(), "y and w must be 1-d of one length");
            require(n >= 1, "n must be >= 1");
            const auto G = static_cast<py::ssize_t>(starts.size());
            for (py::ssize_t g = 0; g < G; ++g)
                require(starts.data()[g] >= 0 && starts.data()[g] < static_cast<std::int64_t>(y.size()) &&
                            (g == 0 || starts.data()[g] > starts.data()[g - 1]),
                        "starts must be increasing indices into y");
            py::array_t<double> alpha({G, static_cast<py::ssize_t>(n)}), beta({G, static_cast<py::ssize_t>(n - 1)}), mass(G);
            {
                py::gil_scoped_release release;
                segment_jacobi(y.data(), w.data(), y.size(), starts.data(), static_cast<std::size_t>(G), n,
                               alpha.mutable_data(), beta.mutable_data(), mass.mutable_data());
            }
            return py::make_tuple(alpha, beta, mass);
        },
        py::arg("y"), py::arg("w"), py::arg("starts"), py::arg("n"),
        "Jacobi matrices (alpha, beta, mass) of n-node Gauss rules of contiguous groups (the compression pre-pass).");
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
