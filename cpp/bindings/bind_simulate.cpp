// The simulator: gradient-descent / SGD training of the per-time denoisers and the DDPM sampler.
#include <lindiff/simulate.hpp>

#include <pybind11/stl.h>

#include <array>

#include "common.hpp"

namespace lindiff::bind {

namespace {

using i64array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using u32array = py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>;

std::span<const std::int64_t> span_of(const i64array& a) { return {a.data(), static_cast<std::size_t>(a.size())}; }
std::span<const std::uint32_t> span_of(const u32array& a) { return {a.data(), static_cast<std::size_t>(a.size())}; }
using lindiff::bind::span_of;

Philox4x32 key_of(const u32array& key) {
    require(key.size() == 2, "key must hold two uint32 words");
    return Philox4x32{{key.data()[0], key.data()[1]}};
}

py::tuple train(bool sgd, darray X, darray C, darray sigma, darray a2, darray b2, double c, double eta,
                i64array record_steps, int batch_size, u32array keys, double threshold) {
    require(C.ndim() == 3 && C.shape(1) == C.shape(2), "C must have shape (draws, d, d)");
    TrainProblem p;
    p.draws = int(C.shape(0));
    p.d = int(C.shape(1));
    if (sgd) {
        require(X.ndim() == 3 && X.shape(0) == C.shape(0) && X.shape(1) == C.shape(1),
                "X must have shape (draws, d, N)");
        p.N = int(X.shape(2));
        p.X = span_of(X);
    } else {
        p.N = 1;
    }
    p.C = span_of(C);
    p.sigma = span_of(sigma);
    p.a2 = span_of(a2);
    p.b2 = span_of(b2);
    p.c = c;
    p.eta = eta;
    p.record_steps = span_of(record_steps);
    p.batch_size = batch_size;
    p.keys = span_of(keys);
    p.divergence_threshold = threshold;
    const auto draws = py::ssize_t(p.draws), d = py::ssize_t(p.d), nt = py::ssize_t(p.nt());
    const auto nrec = py::ssize_t(p.record_steps.size());
    py::array_t<double> W({draws, nt, d, d}), test({draws, nrec, nt}), trn({draws, nrec, nt});
    py::array_t<std::int64_t> div({draws, nt});
    TrainOut out{mut_span(W), mut_span(test), mut_span(trn), mut_span(div)};
    {
        py::gil_scoped_release release;
        if (sgd)
            train_sgd(p, out);
        else
            train_gd(p, out);
    }
    return py::make_tuple(W, test, trn, div);
}

py::array_t<double> sample(darray W, darray beta, darray b, darray sigma, u32array key, std::int64_t n, int block) {
    require(W.ndim() == 3 && W.shape(1) == W.shape(2), "W must have shape (T, d, d)");
    const int d = int(W.shape(1));
    const auto gen = key_of(key);
    require(n >= 1, "n_samples must be >= 1");
    py::array_t<double> out({py::ssize_t(d), py::ssize_t(n)});
    auto o = mut_span(out);
    {
        py::gil_scoped_release release;
        sample_ddpm(span_of(W), d, span_of(beta), span_of(b), span_of(sigma), gen, n, o, block);
    }
    return out;
}

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
    m.def(
        "train_gd",
        [](darray C, darray sigma, darray a2, darray b2, double c, double eta, i64array record_steps,
           double threshold) {
            return train(false, darray(), std::move(C), std::move(sigma), std::move(a2), std::move(b2), c, eta,
                         std::move(record_steps), 0, u32array(), threshold);
        },
        py::arg("C"), py::arg("sigma"), py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta"),
        py::arg("record_steps"), py::arg("divergence_threshold") = 1e10,
        "Full-batch GD from W = 0: (W (draws, nt, d, d), test, train (draws, nrec, nt), diverged_at (draws, nt)).");
    m.def(
        "train_sgd",
        [](darray X, darray C, darray sigma, darray a2, darray b2, double c, double eta, i64array record_steps,
           int batch_size, u32array keys, double threshold) {
            return train(true, std::move(X), std::move(C), std::move(sigma), std::move(a2), std::move(b2), c, eta,
                         std::move(record_steps), batch_size, std::move(keys), threshold);
        },
        py::arg("X"), py::arg("C"), py::arg("sigma"), py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta"),
        py::arg("record_steps"), py::arg("batch_size"), py::arg("keys"), py::arg("divergence_threshold") = 1e10,
        "Minibatch SGD on (x_0, eps) from W = 0; same outputs as train_gd.");
    m.def("sample_ddpm", &sample, py::arg("W"), py::arg("beta"), py::arg("b"), py::arg("sigma"), py::arg("key"),
          py::arg("n"), py::arg("block") = 128, "DDPM sampler with W (T, d, d): samples (d, n).");
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
