// lindiff CUDA backend: host entry points (implemented in kappa.cu).  Included by module.cpp,
// which is compiled by the host compiler; no CUDA headers here.
#pragma once

#include <lindiff/kappa.hpp>
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

}  // namespace lindiff::cuda
