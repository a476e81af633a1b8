// lindiff kernel: shared utilities (argument checks, OpenMP shims).
// Header-only, C++20, no Python.
#pragma once

#include <cmath>
#include <complex>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace lindiff {

using cplx = std::complex<double>;

inline constexpr double eps = std::numeric_limits<double>::epsilon();

/// Throw std::invalid_argument (a Python ValueError through pybind11) unless `ok`.
inline void require(bool ok, const std::string& message) {
    if (!ok) throw std::invalid_argument(message);
}

inline bool is_finite(double x) noexcept { return std::isfinite(x); }
inline bool is_finite(const cplx& x) noexcept { return std::isfinite(x.real()) && std::isfinite(x.imag()); }

/// Number of OpenMP threads kernel loops use (1 without OpenMP).
inline int num_threads() noexcept {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/// Set the number of OpenMP threads (no-op without OpenMP).
inline void set_num_threads(int n) {
    require(n >= 1, "n_threads must be >= 1");
#if defined(_OPENMP)
    omp_set_num_threads(n);
#endif
}

inline constexpr bool have_openmp() noexcept {
#if defined(_OPENMP)
    return true;
#else
    return false;
#endif
}

}  // namespace lindiff
