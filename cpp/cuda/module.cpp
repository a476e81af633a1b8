// lindiff._cuda: the optional GPU backend (built with LINDIFF_CUDA=ON).  Importing it without a
// GPU works; calls then raise RuntimeError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "../bindings/simulate_binding.hpp"
#include "backend.hpp"

namespace py = pybind11;
using namespace lindiff;
using lindiff::bind::darray;

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
    // the simulator: lindiff._core's signatures, checks and outputs (simulate_binding.hpp)
    bind::def_simulator(
        m,
        [](bool sgd, const TrainProblem& p, const TrainOut& o) {
            const cuda::TrainArgs args{p.draws, p.d,   p.N,   p.C,   p.X,            p.sigma,      p.a2,
                                       p.b2,    p.c,   p.eta, p.record_steps, p.batch_size, p.keys,
                                       p.divergence_threshold};
            const cuda::TrainOutputs out{o.W, o.test, o.train, o.diverged_at};
            if (sgd)
                cuda::train_sgd(args, out);
            else
                cuda::train_gd(args, out);
        },
        [](std::span<const double> W, int d, std::span<const double> beta, std::span<const double> b,
           std::span<const double> sigma, const Philox4x32& key, std::int64_t n, std::span<double> out,
           int block) { cuda::sample_ddpm(W, d, beta, b, sigma, key.key[0], key.key[1], n, out, block); },
        "GPU version of lindiff._core's function (same algorithm and Philox streams). ");
}
