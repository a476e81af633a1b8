// lindiff kernel: shared utilities (argument checks, OpenMP shims).
// Header-only, C++20, no Python.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(_OPENMP)
#include <omp.h>
#endif

// Functions marked LINDIFF_HD also compile as CUDA device code (the GPU backend runs the very
// same per-point solver); without nvcc the macro is empty.
#if defined(__CUDACC__)
#define LINDIFF_HD __host__ __device__
// put before a __host__ __device__ template also instantiated with host-only types
// (std::complex): nvcc then checks only the instantiations device code uses
#define LINDIFF_HD_ANY_TYPE _Pragma("nv_exec_check_disable")
#else
#define LINDIFF_HD
#define LINDIFF_HD_ANY_TYPE
#endif

// `#pragma omp simd reduction(+ : ...)` on the host; nothing in device code.
#define LINDIFF_PRAGMA(x) _Pragma(#x)
// Full unrolling of a short fixed loop (lets compilers vectorise the loop around it).
#if defined(__CUDACC__)
#define LINDIFF_UNROLL(n) LINDIFF_PRAGMA(unroll n)
#elif defined(__clang__)
#define LINDIFF_UNROLL(n) LINDIFF_PRAGMA(clang loop unroll_count(n))
#elif defined(__GNUC__)
#define LINDIFF_UNROLL(n) LINDIFF_PRAGMA(GCC unroll n)
#else
#define LINDIFF_UNROLL(n)
#endif
#if defined(__CUDA_ARCH__)
#define LINDIFF_SIMD_SUM(...)
#else
#define LINDIFF_SIMD_SUM(...) LINDIFF_PRAGMA(omp simd reduction(+ : __VA_ARGS__))
#endif

namespace lindiff {

using cplx = std::complex<double>;

inline constexpr double eps = std::numeric_limits<double>::epsilon();

/// The Bernstein ellipse of [-1, 1] through t: rho = |t + sqrt(t - 1) sqrt(t + 1)| >= 1 (1 on the
/// segment itself).  Chebyshev interpolation and Gauss rules of degree p on [-1, 1] err by
/// O(rho^-p) for a function analytic inside that ellipse.
inline double bernstein_rho(cplx t) noexcept {
    const double a = std::abs(t + std::sqrt(t - 1.0) * std::sqrt(t + 1.0));
    return a >= 1.0 ? a : 1.0 / a;
}

/// Throw std::invalid_argument (a Python ValueError through pybind11) unless `ok`.
/// A number for an error message: 6 significant digits, exponent when needed (std::to_string
/// prints 1e300 with 300 digits and 1e-300 as 0.000000).
inline std::string num(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", x);
    return buf;
}

inline void require(bool ok, const char* message) {
    if (!ok) throw std::invalid_argument(message);
}

/// Same, with the message built only on failure (checks inside loops must not format strings).
template <class MakeMessage>
    requires std::is_invocable_r_v<std::string, MakeMessage>
inline void require(bool ok, MakeMessage&& make_message) {
    if (!ok) throw std::invalid_argument(make_message());
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

/// The most threads set_num_threads accepts: the OpenMP thread limit, capped at 1024 (beyond
/// that, creating the team exhausts thread stacks: 100000 threads crashed the process).
inline int max_num_threads() noexcept {
#if defined(_OPENMP)
    return std::min(omp_get_thread_limit(), 1024);
#else
    return 1024;
#endif
}

/// Set the number of OpenMP threads (no-op without OpenMP).
inline void set_num_threads(int n) {
    require(n >= 1 && n <= max_num_threads(), [&] {
        return "n_threads must be in [1, " + std::to_string(max_num_threads()) + "] (got " + std::to_string(n) + ")";
    });
#if defined(_OPENMP)
    omp_set_num_threads(n);
#endif
}

/// Serial/parallel switch of the kernel's batch loops.
///
/// A loop's work is counted in eigenvalue terms (one term = one 1/(lambda + kappa) and its few
/// multiply-adds, ~0.3-1 ns on one core).  Starting an OpenMP team costs ~2-20 us on an idle
/// machine and much more when the other cores are busy (a woken thread waits for a time slice),
/// so a loop with less work than parallel_min_work() runs serially on the calling thread
/// (`#pragma omp parallel for if (parallel_pays(work))`).  Which way a loop runs never changes
/// its results: the points of a batch are independent.  bench/bench_calls.py measures it: on
/// 2 cores the best-case crossover of 1 and 2 threads lies near 2e4 terms (2e5 terms: 0.6x the
/// serial time), while on a machine whose cores are busy a team start can cost a scheduler
/// time slice (ms: 10-100x slower loops, median of 400 calls, from 5e5 terms up).  The default
/// sits 10x above the best-case crossover: below it a second thread saves at most ~30 us.
/// set_parallel_min_work changes it (0: always parallel).
inline constexpr double default_parallel_min_work = 2e5;

namespace detail {
inline std::atomic<double> parallel_min_work_value{default_parallel_min_work};
}  // namespace detail

inline double parallel_min_work() noexcept { return detail::parallel_min_work_value.load(std::memory_order_relaxed); }

inline void set_parallel_min_work(double work) {
    require(work >= 0 && !std::isnan(work), [&] {
        return "work must be >= 0 (got " + std::to_string(work) + ")";
    });
    detail::parallel_min_work_value.store(work, std::memory_order_relaxed);
}

/// Whether a loop of `work` eigenvalue terms should open an OpenMP team.
inline bool parallel_pays(double work) noexcept {
    return num_threads() > 1 && work >= parallel_min_work();
}

inline constexpr bool have_openmp() noexcept {
#if defined(_OPENMP)
    return true;
#else
    return false;
#endif
}

}  // namespace lindiff
