// The simulator: gradient-descent / SGD training of the per-time denoisers and the DDPM sampler.
#include <array>

#include "simulate_binding.hpp"

namespace lindiff::bind {

namespace {

py::array_t<double> covariance(darray W, darray beta, darray b, darray sigma) {
    require(W.ndim() == 3 && W.shape(1) == W.shape(2), "W must have shape (T, d, d)");
    const int d = int(W.shape(1));
    py::array_t<double> out({py::ssize_t(d), py::ssize_t(d)});
    auto o = mut_span(out);
    {
        py::gil_scoped_release release;
        sampler_covariance(span_of(W), d, span_of(beta), span_of(b), span_of(sigma), o);
    }
    return out;
}

}  // namespace

void register_simulate(py::module_& m) {
    def_simulator(
        m,
        [](bool sgd, const TrainProblem& p, const TrainOut& out) {
            if (sgd)
                train_sgd(p, out);
            else
                train_gd(p, out);
        },
        [](std::span<const double> W, int d, std::span<const double> beta, std::span<const double> b,
           std::span<const double> sigma, const Philox4x32& key, std::int64_t n, std::span<double> out,
           int block) { sample_ddpm(W, d, beta, b, sigma, key, n, out, block); },
        "");
    m.def("sampler_covariance", &covariance, py::arg("W"), py::arg("beta"), py::arg("b"), py::arg("sigma"),
          "Exact covariance (d, d) of the sampler's output for W (T, d, d).");
    m.def(
        "philox4x32",
        [](u32array key, std::array<std::uint32_t, 4> ctr) {
            std::uint32_t w[4];
            key_of(key)(ctr[0], ctr[1], ctr[2], ctr[3], w);
            return std::array<std::uint32_t, 4>{w[0], w[1], w[2], w[3]};
        },
        py::arg("key"), py::arg("counter"), "Philox4x32-10 block (for known-answer tests).");
    m.def(
        "normal_stream",
        [](u32array key, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, std::int64_t n) {
            require(n >= 0, "n must be >= 0");
            py::array_t<double> out(n);
            fill_normal(key_of(key), c1, c2, c3, out.mutable_data(), std::size_t(n));
            return out;
        },
        py::arg("key"), py::arg("c1"), py::arg("c2"), py::arg("c3"), py::arg("n"),
        "The first n standard normals of a Philox stream.");
}

}  // namespace lindiff::bind
