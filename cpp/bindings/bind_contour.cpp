// Quadrature rules of the DE spectral measures, and loss integrals over them.
#include <pybind11/stl.h>

#include <lindiff/contour.hpp>
#include <lindiff/density.hpp>
#include <lindiff/sampler.hpp>

#include "common.hpp"

namespace lindiff::bind {

namespace {

py::array_t<cplx> to_array(const std::vector<cplx>& v) {
    py::array_t<cplx> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

MeasureOptions rule_options(double tol, int m_min, int m_max) {
    MeasureOptions opt;
    opt.tol = tol;
    opt.m_min = m_min;
    opt.m_max = m_max;
    return opt;
}

py::dict measure_dict(const DeMeasure& r) {
    py::dict d;
    d["nodes"] = to_array(r.nodes);
    d["w_rho"] = to_array(r.w_rho);
    d["w_sigma"] = to_array(r.w_sigma);
    d["w_sinv"] = to_array(r.w_sinv);
    d["atom_rho"] = r.atom_rho;
    d["atom_sigma"] = r.atom_sigma;
    d["atom_sinv"] = r.atom_sinv;
    d["s_lo"] = r.s_lo;
    d["s_hi"] = r.s_hi;
    d["kappa0"] = r.kappa0;
    d["error"] = r.error;
    d["kappa_failures"] = r.kappa_failures;
    d["intervals"] = r.intervals;
    d["converged"] = r.converged;
    d["message"] = r.message;
    return d;
}

}  // namespace

void register_contour(py::module_& m) {
    m.def(
        "de_measure",
        [](darray lam, std::optional<darray> w, double N, double tol, int m_min, int m_max,
           double height_max) {
            PySpectrum sp(std::move(lam), std::move(w));
            MeasureOptions opt = rule_options(tol, m_min, m_max);
            opt.height_max = height_max;
            DeMeasure r;
            {
                py::gil_scoped_release release;
                r = de_measure(sp.view, N, opt);
            }
            return measure_dict(r);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("tol") = 1e-11,
        py::arg("m_min") = 64, py::arg("m_max") = 16384, py::arg("height_max") = 1.0,
        "Quadrature rule (nodes, complex weights, atoms at 0) of the DE measures of C.");

    m.def(
        "de_measure_real",
        [](darray lam, std::optional<darray> w, double N, double tol, int m_min, int m_max, std::size_t tree_from) {
            PySpectrum sp(std::move(lam), std::move(w));
            MeasureOptions opt = rule_options(tol, m_min, m_max);
            opt.tree_from = tree_from;
            DeMeasure r;
            {
                py::gil_scoped_release release;
                r = de_measure_real(sp.view, N, opt);
            }
            return measure_dict(r);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("tol") = 1e-11,
        py::arg("m_min") = 32, py::arg("m_max") = 65536, py::arg("tree_from") = SpectralTree::TREE_FROM,
        "Real-axis rule (adaptive composite Gauss-Legendre in theta per support interval: real nodes "
        "and weights, atoms at 0) of the DE measures of C; spectral sums through a SpectralTree from `tree_from` distinct "
        "eigenvalues on.");

    m.def(
        "de_point_sums",
        [](darray lam, std::optional<darray> w, darray x, darray Y, std::size_t tree_from) {
            PySpectrum sp(std::move(lam), std::move(w));
            require(x.ndim() == 1 && Y.ndim() == 1 && x.size() == Y.size(), "x and Y must be 1-d of one length");
            const auto n = static_cast<py::ssize_t>(x.size());
            py::array_t<double> out({n, static_cast<py::ssize_t>(7)});
            {
                py::gil_scoped_release release;
                const DistinctSpectrum ds(sp.view, tree_from);
                const double *xv = x.data(), *yv = Y.data();
                double* o = out.mutable_data();
                for (py::ssize_t i = 0; i < n; ++i) {
                    const std::array<double, 7> r = detail::point_sums(ds, xv[i], yv[i]);
                    std::copy(r.begin(), r.end(), o + 7 * i);
                }
            }
            return out;
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("x"), py::arg("Y"),
        py::arg("tree_from") = SpectralTree::TREE_FROM,
        "The seven spectral sums of the real-axis parametrisation at (x, Y) (density.hpp point_sums), "
        "direct or through a SpectralTree from `tree_from` distinct eigenvalues on: a test hook.");

    m.def(
        "de_spectral_density",
        [](darray lam, std::optional<darray> w, double N, darray s, std::size_t tree_from) {
            PySpectrum sp(std::move(lam), std::move(w));
            check_measure_args(sp.view, N);
            const auto n = static_cast<py::ssize_t>(s.size());
            py::array_t<double> rho(n), rho_sigma(n), rho_sinv(n), kx(n), ky(n);
            py::array_t<cplx> stj(n);
            DeSupport sup;
            {
                py::gil_scoped_release release;
                const DistinctSpectrum ds(sp.view, tree_from);
                sup = de_support(ds, N);
                const double* sv = s.data();
                double *r0 = rho.mutable_data(), *r1 = rho_sigma.mutable_data(), *r2 = rho_sinv.mutable_data();
                double *px = kx.mutable_data(), *py_ = ky.mutable_data();
                cplx* pm = stj.mutable_data();
#pragma omp parallel for schedule(dynamic, 16) if (static_cast<double>(n) * ds.size() > 2e5)
                for (py::ssize_t i = 0; i < n; ++i) {
                    const RealAxisPoint p = real_axis_at_s(ds, N, sup, sv[i]);
                    r0[i] = p.rho;
                    r1[i] = p.rho_sigma;
                    r2[i] = p.rho_sinv;
                    px[i] = p.x;
                    py_[i] = p.y;
                    pm[i] = p.stieltjes;
                }
            }
            py::dict d;
            d["rho"] = rho;
            d["rho_sigma"] = rho_sigma;
            d["rho_sinv"] = rho_sinv;
            d["kappa_re"] = kx;
            d["kappa_im"] = ky;
            d["stieltjes"] = stj;
            d["support_lo"] = py::array_t<double>(static_cast<py::ssize_t>(sup.s_lo.size()), sup.s_lo.data());
            d["support_hi"] = py::array_t<double>(static_cast<py::ssize_t>(sup.s_hi.size()), sup.s_hi.data());
            return d;
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("s"),
        py::arg("tree_from") = SpectralTree::TREE_FROM,
        "Densities of the three DE measures of C at real s (continuous part), kappa = x + i y, the "
        "Stieltjes transform m(s + i0), and the support intervals.");

    m.def(
        "de_losses",
        [](carray nodes, carray w_rho, carray w_sigma, double atom_rho, double atom_sigma, darray a2,
           darray b2, double c, darray eta_tau, double gd_eta, py::array_t<std::int64_t> t_idx) {
            require(w_rho.size() == nodes.size() && w_sigma.size() == nodes.size(),
                    "nodes and weights must have the same length");
            require(a2.size() == b2.size(), "a2 and b2 must have the same length");
            for (std::int64_t i = 0; i < t_idx.size(); ++i)
                require(t_idx.data()[i] >= 0 && t_idx.data()[i] < a2.size(), "t index out of range");
            MeasureView mu{span_of(nodes), span_of(w_rho), span_of(w_sigma), {}, atom_rho, atom_sigma, 0.0};
            ScheduleView sch{span_of(a2), span_of(a2), span_of(b2), span_of(a2)};  // beta, sigma2 unused
            const auto ne = static_cast<py::ssize_t>(eta_tau.size()), nt = static_cast<py::ssize_t>(t_idx.size());
            py::array_t<double> test({ne, nt}), train({ne, nt}), ridge({ne, nt});
            double imag = 0;
            {
                py::gil_scoped_release release;
                de_losses(mu, sch, c, span_of(eta_tau), gd_eta,
                          {t_idx.data(), static_cast<std::size_t>(t_idx.size())},
                          {test.mutable_data(), static_cast<std::size_t>(test.size())},
                          {train.mutable_data(), static_cast<std::size_t>(train.size())},
                          {ridge.mutable_data(), static_cast<std::size_t>(ridge.size())}, imag);
            }
            return py::make_tuple(test, train, ridge, imag);
        },
        py::arg("nodes"), py::arg("w_rho"), py::arg("w_sigma"), py::arg("atom_rho"), py::arg("atom_sigma"),
        py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta_tau"), py::arg("gd_eta"), py::arg("t_idx"),
        "Gradient-flow test, train and ridge-data-predictor losses (n_eta, n_t) from a quadrature rule; "
        "returns (test, train, ridge, max |Im|).");
}

}  // namespace lindiff::bind
