// The sampler variance map gamma(s) over arrays of s (real or complex) and of eta*tau.
#include <lindiff/sampler.hpp>

#include <algorithm>
#include <type_traits>

#include "common.hpp"

namespace lindiff::bind {

namespace {

template <class T, class A>
py::array_t<T> gamma_array(const A& s, darray beta, darray a2, darray b2, darray sigma2, double c,
                           darray eta_tau, double gd_eta) {
    const auto T_ = beta.size();
    require(beta.ndim() == 1 && a2.ndim() == 1 && b2.ndim() == 1 && sigma2.ndim() == 1,
            "schedule arrays must be one-dimensional");
    require(a2.size() == T_ && b2.size() == T_ && sigma2.size() == T_,
            "schedule arrays (beta, a2, b2, sigma2) must have the same length");
    require(std::isfinite(c) && c >= 0, "c must be finite and >= 0");
    require(std::isfinite(gd_eta) && gd_eta >= 0, "gd_eta must be finite and >= 0");
    const ScheduleView sch{span_of(beta), span_of(a2), span_of(b2), span_of(sigma2)};
    auto sv = span_of(s);
    auto et = span_of(eta_tau);
    for (double e : et) require(e > 0, "eta_tau must be > 0 (inf: the minimiser)");
    py::array_t<T> out({static_cast<py::ssize_t>(et.size()), static_cast<py::ssize_t>(sv.size())});
    T* o = out.mutable_data();
    const std::int64_t ns = static_cast<std::int64_t>(sv.size()), ne = static_cast<std::int64_t>(et.size());
    {
        py::gil_scoped_release release;
        if constexpr (std::is_same_v<T, double>) {
            // blocks of s through the vectorised recurrence (elementwise: same values as one by one)
            constexpr std::int64_t blk = 64;
            const std::int64_t nb = (ns + blk - 1) / blk;
#pragma omp parallel for collapse(2) schedule(static)
            for (std::int64_t e = 0; e < ne; ++e)
                for (std::int64_t b = 0; b < nb; ++b) {
                    const std::int64_t i0 = b * blk, n = std::min(blk, ns - i0);
                    sampler_gamma_block(sch, c, TrainingTime{et[e], gd_eta}, sv.data() + i0, o + e * ns + i0,
                                        static_cast<std::size_t>(n));
                }
        } else {
#pragma omp parallel for collapse(2) schedule(static)
            for (std::int64_t e = 0; e < ne; ++e)
                for (std::int64_t i = 0; i < ns; ++i)
                    o[e * ns + i] = sampler_gamma<T>(sch, c, TrainingTime{et[e], gd_eta}, sv[i]);
        }
    }
    return out;
}

}  // namespace

void register_sampler(py::module_& m) {
    m.def("sampler_gamma", &gamma_array<double, darray>, py::arg("s"), py::arg("beta"), py::arg("a2"),
          py::arg("b2"), py::arg("sigma2"), py::arg("c"), py::arg("eta_tau"), py::arg("gd_eta") = 0.0,
          "gamma(s) for real s: array (len(eta_tau), len(s)).");
    m.def("sampler_gamma_complex", &gamma_array<cplx, carray>, py::arg("s"), py::arg("beta"),
          py::arg("a2"), py::arg("b2"), py::arg("sigma2"), py::arg("c"), py::arg("eta_tau"),
          py::arg("gd_eta") = 0.0, "gamma(s) for complex s: array (len(eta_tau), len(s)).");
}

}  // namespace lindiff::bind
