// Python bindings of the simulator, shared by lindiff._core (CPU) and lindiff._cuda (GPU): one
// place for the argument parsing, the checks, the output arrays and the Python signatures; each
// backend passes only the functions that run the work.
#pragma once

#include <pybind11/stl.h>

#include <lindiff/simulate.hpp>
#include <string>

#include "common.hpp"

namespace lindiff::bind {

using i64array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using u32array = py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>;

inline std::span<const std::int64_t> span_of(const i64array& a) {
    return {a.data(), static_cast<std::size_t>(a.size())};
}
inline std::span<const std::uint32_t> span_of(const u32array& a) {
    return {a.data(), static_cast<std::size_t>(a.size())};
}

inline Philox4x32 key_of(const u32array& key) {
    require(key.size() == 2, "key must hold two uint32 words");
    return Philox4x32{{key.data()[0], key.data()[1]}};
}

/// Validate the arrays, allocate the outputs and call run(sgd, problem, out) with the GIL released.
template <class Run>
py::tuple run_training(Run&& run, bool sgd, const darray& X, const darray& C, const darray& sigma, const darray& a2,
                       const darray& b2, double c, double eta, const i64array& record_steps, int batch_size,
                       const u32array& keys, double threshold) {
    require(C.ndim() == 3 && C.shape(1) == C.shape(2), "C must have shape (draws, d, d)");
    TrainProblem p;
    p.draws = int(C.shape(0));
    p.d = int(C.shape(1));
    p.N = 1;
    if (sgd) {
        require(X.ndim() == 3 && X.shape(0) == C.shape(0) && X.shape(1) == C.shape(1),
                "X must have shape (draws, d, N)");
        p.N = int(X.shape(2));
        p.X = span_of(X);
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
    check_train_problem(p, sgd);
    const auto draws = py::ssize_t(p.draws), d = py::ssize_t(p.d), nt = py::ssize_t(p.nt());
    const auto nrec = py::ssize_t(p.record_steps.size());
    py::array_t<double> W({draws, nt, d, d}), test({draws, nrec, nt}), trn({draws, nrec, nt});
    py::array_t<std::int64_t> div({draws, nt});
    const TrainOut out{mut_span(W), mut_span(test), mut_span(trn), mut_span(div)};
    {
        py::gil_scoped_release release;
        run(sgd, p, out);
    }
    return py::make_tuple(W, test, trn, div);
}

/// Define train_gd, train_sgd and sample_ddpm on m.
///   run_train(bool sgd, const TrainProblem&, const TrainOut&)
///   run_sample(W, d, beta, b, sigma, const Philox4x32& key, n, out, block)
/// (both called with the GIL released, after the checks of simulate.hpp).
template <class RunTrain, class RunSample>
void def_simulator(py::module_& m, RunTrain run_train, RunSample run_sample, const std::string& doc_prefix) {
    m.def(
        "train_gd",
        [run_train](darray C, darray sigma, darray a2, darray b2, double c, double eta, i64array record_steps,
                    double threshold) {
            return run_training(run_train, false, darray(), C, sigma, a2, b2, c, eta, record_steps, 0, u32array(),
                                threshold);
        },
        py::arg("C"), py::arg("sigma"), py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta"),
        py::arg("record_steps"), py::arg("divergence_threshold") = 1e10,
        (doc_prefix + "Full-batch GD from W = 0: (W (draws, nt, d, d), test, train (draws, nrec, nt), "
                      "diverged_at (draws, nt)).").c_str());
    m.def(
        "train_sgd",
        [run_train](darray X, darray C, darray sigma, darray a2, darray b2, double c, double eta,
                    i64array record_steps, int batch_size, u32array keys, double threshold) {
            return run_training(run_train, true, X, C, sigma, a2, b2, c, eta, record_steps, batch_size, keys,
                                threshold);
        },
        py::arg("X"), py::arg("C"), py::arg("sigma"), py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta"),
        py::arg("record_steps"), py::arg("batch_size"), py::arg("keys"), py::arg("divergence_threshold") = 1e10,
        (doc_prefix + "Minibatch SGD on (x_0, eps) from W = 0 (Philox streams); same outputs as train_gd.").c_str());
    m.def(
        "sample_ddpm",
        [run_sample](darray W, darray beta, darray b, darray sigma, u32array key, std::int64_t n, int block) {
            require(W.ndim() == 3 && W.shape(1) == W.shape(2), "W must have shape (T, d, d)");
            const int d = int(W.shape(1));
            const auto gen = key_of(key);
            require(n >= 1, "n_samples must be >= 1");
            py::array_t<double> out({py::ssize_t(d), py::ssize_t(n)});
            const auto o = mut_span(out);
            check_sample_args(span_of(W), d, span_of(beta), span_of(b), span_of(sigma), n, o, block);
            {
                py::gil_scoped_release release;
                run_sample(span_of(W), d, span_of(beta), span_of(b), span_of(sigma), gen, n, o, block);
            }
            return out;
        },
        py::arg("W"), py::arg("beta"), py::arg("b"), py::arg("sigma"), py::arg("key"), py::arg("n"),
        py::arg("block") = 128, (doc_prefix + "DDPM sampler with W (T, d, d) (Philox streams): samples (d, n).").c_str());
}

}  // namespace lindiff::bind
