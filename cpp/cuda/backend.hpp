// lindiff CUDA backend: host entry points (implemented in kappa.cu and simulate.cu).  Included
// by module.cpp, which is compiled by the host compiler; no CUDA headers (and no Eigen) here.
#pragma once

#include <lindiff/kappa.hpp>
#include <cstdint>
#include <span>
#include <string>

namespace lindiff::cuda {

/// Number of CUDA devices visible (0 without a GPU or driver).
int device_count() noexcept;

/// Name and compute capability of device 0, or an explanation why there is none.
std::string device_description();

/// The CPU algorithm of solve_kappa_real (same lattice, same per-point solver), one GPU thread
/// per z.  Throws std::runtime_error when no device is usable.
void solve_kappa_real(const SpectrumView& s, double N, std::span<const double> z,
                      const KappaOut& out, const KappaOptions& opt);

/// The fields of lindiff::TrainProblem (simulate.hpp, which needs Eigen and stays out of nvcc's
/// way), already validated by the caller with lindiff::check_train_problem.
struct TrainArgs {
    int draws = 0, d = 0, N = 0;
    std::span<const double> C, X, sigma, a2, b2;  // as in TrainProblem (X: SGD only)
    double c = 0, eta = 0;
    std::span<const std::int64_t> record_steps;
    int batch_size = 0;                    // SGD only
    std::span<const std::uint32_t> keys;   // SGD only: draws x 2
    double divergence_threshold = 1e10;
};

/// Outputs, shaped as lindiff::TrainOut: W (draws x nt x d x d), test and train
/// (draws x nrec x nt), diverged_at (draws x nt).
struct TrainOutputs {
    std::span<double> W, test, train;
    std::span<std::int64_t> diverged_at;
};

/// lindiff::train_gd on the GPU (same recurrence, same recording and freezing rules).
void train_gd(const TrainArgs& p, const TrainOutputs& out);

/// lindiff::train_sgd on the GPU (same Philox streams for the minibatches and the noise).
void train_sgd(const TrainArgs& p, const TrainOutputs& out);

/// lindiff::sample_ddpm on the GPU (same Philox streams per block of `block` columns); the
/// arguments are validated by the caller.  out: d x n row-major.
void sample_ddpm(std::span<const double> W, int d, std::span<const double> beta, std::span<const double> b,
                 std::span<const double> sigma, std::uint32_t key0, std::uint32_t key1, std::int64_t n,
                 std::span<double> out, int block);

}  // namespace lindiff::cuda
