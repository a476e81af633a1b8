// kappa(z): real batch solve, complex path continuation, kappa0, kappa'.
#include <pybind11/stl.h>

#include <lindiff/kappa.hpp>

#include "common.hpp"

namespace lindiff::bind {

namespace {

/// GIL policy of the one-point calls: below this many eigenvalues a call is a few microseconds
/// and releasing/re-taking the GIL would be a measurable part of it.
constexpr std::size_t release_gil_from = 4096;

/// py::gil_scoped_release when `release`, nothing otherwise.
struct MaybeRelease {
    PyThreadState* state = nullptr;
    explicit MaybeRelease(bool release) { if (release) state = PyEval_SaveThread(); }
    ~MaybeRelease() { if (state) PyEval_RestoreThread(state); }
    MaybeRelease(const MaybeRelease&) = delete;
    MaybeRelease& operator=(const MaybeRelease&) = delete;
};

void register_spectrum_core(py::module_& m) {
    py::class_<SpectrumCore>(m, "SpectrumCore",
                             "A validated spectrum with memoised kappa0 and start-lattice nodes (held by "
                             "lindiff.Spectrum; results are bitwise those of the stateless functions).")
        .def(py::init<darray, std::optional<darray>>(), py::arg("eigenvalues"), py::arg("weights") = py::none())
        .def(py::pickle(  // the spectrum only (the memoised solves are rebuilt on demand)
            [](const SpectrumCore& c) {
                return py::make_tuple(c.sp.lam, c.view().weighted() ? py::object(c.sp.w) : py::object(py::none()));
            },
            [](const py::tuple& t) {
                require(t.size() == 2, "SpectrumCore: bad pickle state");
                std::optional<darray> w;
                if (!t[1].is_none()) w = t[1].cast<darray>();
                return std::make_unique<SpectrumCore>(t[0].cast<darray>(), std::move(w));
            }))
        .def_property_readonly("d", [](const SpectrumCore& c) { return c.view().d; })
        .def_property_readonly("trace", [](const SpectrumCore& c) { return c.view().trace; })
        .def_property_readonly("lambda_min", [](const SpectrumCore& c) { return c.view().lambda_min; })
        .def_property_readonly("lambda_max", [](const SpectrumCore& c) { return c.view().lambda_max; })
        .def(
            "kappa0",
            [](SpectrumCore& c, double N) {
                MaybeRelease release(c.view().size() >= release_gil_from);
                return c.cache.kappa0(c.view(), N);
            },
            py::arg("N"), "kappa0(N), memoised.")
        .def(
            "kappa_real1",
            [](SpectrumCore& c, double z, double N, double tol, int max_iter) {
                const KappaOptions opt{tol, max_iter, 0.1};
                double k0 = NAN;
                KappaPoint p;
                {
                    MaybeRelease release(c.view().size() >= release_gil_from);
                    p = solve_kappa_real_one(c.view(), N, z, opt, c.cache, &k0);
                }
                const RootResult<double>& r = p.root;
                return py::make_tuple(r.x, 1.0 / r.df, r.converged(), r.iterations, r.residual, p.df1,
                                      p.df2, k0);
            },
            py::arg("z"), py::arg("N"), py::arg("tol") = 1e-14, py::arg("max_iter") = 100,
            "One real z > 0: (value, kappa', converged, iterations, residual, df1, df2, kappa0) as Python\n"
            "scalars; bitwise the batch result for this z (same lattice nodes, memoised).")
        .def(
            "solve_kappa_real",
            [](SpectrumCore& c, double N, darray z, double tol, int max_iter, double lattice_h) {
                double k0 = NAN;
                py::tuple t = call_kappa_real_view(
                    [&](const SpectrumView& s, double n, std::span<const double> zz, const KappaOut& o,
                        const KappaOptions& opt) { k0 = lindiff::solve_kappa_real(s, n, zz, o, opt, &c.cache); },
                    c.view(), N, std::move(z), tol, max_iter, lattice_h);
                if (std::isnan(k0)) k0 = c.cache.kappa0(c.view(), N);  // empty z
                return py::make_tuple(t[0], t[1], t[2], t[3], t[4], t[5], k0);
            },
            py::arg("N"), py::arg("z"), py::arg("tol") = 1e-14, py::arg("max_iter") = 100,
            py::arg("lattice_h") = 0.1,
            "_core.solve_kappa_real with the memoised lattice nodes; returns its tuple and kappa0.")
        .def(
            "df12_1",
            [](SpectrumCore& c, double kappa) {
                const SpectrumView& s = c.view();
                require(std::isfinite(kappa) && kappa > -s.lambda_min, "real kappa must be finite and > -min(eigenvalues)");
                DfPair<double> p;
                {
                    MaybeRelease release(s.size() >= release_gil_from);
                    p = df12(s, kappa);
                }
                return py::make_tuple(p.df1, p.df2);
            },
            py::arg("kappa"), "(df1, df2) at one real kappa, as floats.")
        .def("cache_size", [](const SpectrumCore& c) { return c.cache.size(); },
             "Number of memoised lattice nodes.")
        .def("clear_cache", [](SpectrumCore& c) { c.cache.clear(); }, "Forget the memoised solves.");
}

}  // namespace

void register_kappa(py::module_& m) {
    register_spectrum_core(m);
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
