// lindiff._cuda: the optional GPU backend (built with LINDIFF_CUDA=ON).  Importing it without a
// GPU works; calls then raise RuntimeError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <lindiff/simulate.hpp>

#include "../bindings/common.hpp"
#include "backend.hpp"

namespace py = pybind11;
using namespace lindiff;
using lindiff::bind::darray;

namespace {

// The simulator: the same signatures, argument checks (the kernel's own check functions, in the
// same order) and outputs as lindiff._core.train_gd / train_sgd / sample_ddpm (bind_simulate.cpp).
using i64array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using u32array = py::array_t<std::uint32_t, py::array::c_style | py::array::forcecast>;

template <class T>
std::span<const T> cspan(const py::array_t<T, py::array::c_style | py::array::forcecast>& a) {
    return {a.data(), static_cast<std::size_t>(a.size())};
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
        p.X = cspan(X);
    } else {
        p.N = 1;
    }
    p.C = cspan(C);
    p.sigma = cspan(sigma);
    p.a2 = cspan(a2);
    p.b2 = cspan(b2);
    p.c = c;
    p.eta = eta;
    p.record_steps = cspan(record_steps);
    p.batch_size = batch_size;
    p.keys = cspan(keys);
    p.divergence_threshold = threshold;
    check_train_problem(p, sgd);
    if (sgd) {  // the remaining checks of lindiff::train_sgd
        require(p.batch_size >= 1, "batch_size must be >= 1");
        require(p.keys.size() == 2 * std::size_t(p.draws), "keys must have shape (draws, 2)");
    }
    const cuda::TrainArgs args{p.draws, p.d,   p.N,   p.C,          p.X,          p.sigma,
                               p.a2,    p.b2,  p.c,   p.eta,        p.record_steps, p.batch_size,
                               p.keys,  p.divergence_threshold};
    const auto draws = py::ssize_t(p.draws), d = py::ssize_t(p.d), nt = py::ssize_t(p.nt());
    const auto nrec = py::ssize_t(p.record_steps.size());
    py::array_t<double> W({draws, nt, d, d}), test({draws, nrec, nt}), trn({draws, nrec, nt});
    py::array_t<std::int64_t> div({draws, nt});
    const cuda::TrainOutputs out{bind::mut_span(W), bind::mut_span(test), bind::mut_span(trn), bind::mut_span(div)};
    {
        py::gil_scoped_release release;
        if (sgd)
            cuda::train_sgd(args, out);
        else
            cuda::train_gd(args, out);
    }
    return py::make_tuple(W, test, trn, div);
}

py::array_t<double> sample(darray W, darray beta, darray b, darray sigma, u32array key, std::int64_t n, int block) {
    require(W.ndim() == 3 && W.shape(1) == W.shape(2), "W must have shape (T, d, d)");
    const int d = int(W.shape(1));
    require(key.size() == 2, "key must hold two uint32 words");
    require(n >= 1, "n_samples must be >= 1");
    py::array_t<double> out({py::ssize_t(d), py::ssize_t(n)});
    const auto o = bind::mut_span(out);
    // the checks of lindiff::sample_ddpm
    const auto T = std::int64_t(beta.size());
    const auto dd = std::size_t(d) * std::size_t(d);
    require(d >= 1 && T >= 1, "d and T must be >= 1");
    require(std::size_t(W.size()) == std::size_t(T) * dd, "W must have shape (T, d, d)");
    require(std::size_t(b.size()) == std::size_t(T) && std::size_t(sigma.size()) == std::size_t(T),
            "beta, b, sigma must have length T");
    require(n >= 1 && o.size() == std::size_t(n) * std::size_t(d), "out must have shape (d, n)");
    require(block >= 1, "block must be >= 1");
    {
        py::gil_scoped_release release;
        cuda::sample_ddpm(cspan(W), d, cspan(beta), cspan(b), cspan(sigma), key.data()[0], key.data()[1], n, o,
                          block);
    }
    return out;
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
    m.doc() = "lindiff CUDA backend (optional)";
    m.def("device_count", &cuda::device_count, "Number of visible CUDA devices.");
    m.def("device_description", &cuda::device_description, "Device 0, or why there is none.");
    m.def(
        "solve_kappa_real",
        [](darray lam, std::optional<darray> w, double N, darray z, double tol, int max_iter,
           double lattice_h) {
            return bind::call_kappa_real(
                [](const SpectrumView& s, double n, std::span<const double> zz, const KappaOut& o,
                   const KappaOptions& opt) { cuda::solve_kappa_real(s, n, zz, o, opt); },
                std::move(lam), std::move(w), N, std::move(z), tol, max_iter, lattice_h);
        },
        py::arg("eigenvalues"), py::arg("weights"), py::arg("N"), py::arg("z"),
        py::arg("tol") = 1e-14, py::arg("max_iter") = 100, py::arg("lattice_h") = 0.1,
        "GPU version of lindiff._core.solve_kappa_real (same algorithm, same outputs).");
    m.def(
        "train_gd",
        [](darray C, darray sigma, darray a2, darray b2, double c, double eta, i64array record_steps,
           double threshold) {
            return train(false, darray(), std::move(C), std::move(sigma), std::move(a2), std::move(b2), c, eta,
                         std::move(record_steps), 0, u32array(), threshold);
        },
        py::arg("C"), py::arg("sigma"), py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta"),
        py::arg("record_steps"), py::arg("divergence_threshold") = 1e10,
        "GPU version of lindiff._core.train_gd: (W (draws, nt, d, d), test, train (draws, nrec, nt), "
        "diverged_at (draws, nt)).");
    m.def(
        "train_sgd",
        [](darray X, darray C, darray sigma, darray a2, darray b2, double c, double eta, i64array record_steps,
           int batch_size, u32array keys, double threshold) {
            return train(true, std::move(X), std::move(C), std::move(sigma), std::move(a2), std::move(b2), c, eta,
                         std::move(record_steps), batch_size, std::move(keys), threshold);
        },
        py::arg("X"), py::arg("C"), py::arg("sigma"), py::arg("a2"), py::arg("b2"), py::arg("c"), py::arg("eta"),
        py::arg("record_steps"), py::arg("batch_size"), py::arg("keys"), py::arg("divergence_threshold") = 1e10,
        "GPU version of lindiff._core.train_sgd (same Philox streams); same outputs as train_gd.");
    m.def("sample_ddpm", &sample, py::arg("W"), py::arg("beta"), py::arg("b"), py::arg("sigma"), py::arg("key"),
          py::arg("n"), py::arg("block") = 128,
          "GPU version of lindiff._core.sample_ddpm (same Philox streams): samples (d, n).");
}
