// lindiff kernel: the one-call C++ API (namespace lindiff::api).
//
// Every call returns a Result: value, derivative, converged, iterations, residual, message.
//
//   api::Spectrum          owns eigenvalues (+ multiplicities); powerlaw(d, k) as in Python
//   api::kappa             kappa(z) for real z > 0 or complex z, one point or a batch
//   api::kappa0            kappa0 (0 for N >= d, else the root of df1(kappa0) = N)
//   api::df1, api::df2     the degrees-of-freedom sums at a given kappa
//   api::find_root         safeguarded bracketed Newton for any C++ callable
//   (api::fixed_point      x = g(x) for any C++ callable: <lindiff/api_eigen.hpp>, needs Eigen)
//
// The values are those of the Python package: api::kappa runs the same batch solver as
// lindiff.kappa (a real z's value depends only on z, not on the other points of a batch),
// api::kappa0 is the kernel's kappa0, api::find_root the kernel's newton_bracketed.  The
// lower-level span API (solve_kappa_real / solve_kappa_path with a KappaOut) stays available for
// zero-copy batches.
//
// Invalid arguments (N <= 0, z <= 0 for real solves, bad eigenvalues, ...) throw
// std::invalid_argument with a message naming the argument; a solve that does not converge is
// reported in the Result (converged = false), never thrown.
//
// Header-only, C++20, no Eigen, no Python.
#pragma once

#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common.hpp"
#include "kappa.hpp"
#include "roots.hpp"
#include "spectrum.hpp"

namespace lindiff::api {

/// NaN of a real or complex type (NaN + NaN i).
template <class T>
constexpr T nan_value() noexcept {
    constexpr double q = std::numeric_limits<double>::quiet_NaN();
    if constexpr (std::is_same_v<T, cplx>) return T(q, q);
    else return T(q);
}

/// The outcome of one solve or evaluation.
///
/// What `derivative` is depends on the call (see each function): kappa'(z) for kappa,
/// d kappa0 / dN for kappa0, d df / d kappa for df1 / df2, f'(x) for find_root, g'(x) for a scalar
/// fixed point.  `residual` is the residual of the value returned (relative where the equation
/// has a natural scale), `iterations` the solver's count (0 for closed forms and direct sums).
template <class T = double>
struct Result {
    T value{nan_value<T>()};
    T derivative{nan_value<T>()};
    bool converged = false;
    int iterations = 0;
    double residual = std::numeric_limits<double>::quiet_NaN();
    std::string message;
};

/// A population spectrum that owns its eigenvalues and multiplicities (weights), validated once.
/// Converts to the kernel's non-owning `lindiff::SpectrumView`, so it can be passed to every
/// kernel function as well.
class Spectrum {
public:
    /// Eigenvalues (finite, > 0) and optional multiplicities (finite, > 0; empty: all 1).
    explicit Spectrum(std::vector<double> eigenvalues, std::vector<double> weights = {})
        : lam_(std::move(eigenvalues)), w_(std::move(weights)), view_(lam_, w_) {}

    /// Power law lambda_nu = nu^-k, nu = 1..d, normalised to Tr Sigma / d = 1 (as
    /// `lindiff.Spectrum.powerlaw(d, k)` in Python; `normalize = false` keeps nu^-k).
    [[nodiscard]] static Spectrum powerlaw(std::size_t d, double k, bool normalize = true) {
        require(d >= 1, "d must be >= 1");
        require(std::isfinite(k), "k must be finite");
        std::vector<double> lam(d);
        double sum = 0;
        for (std::size_t nu = 0; nu < d; ++nu) {
            lam[nu] = std::pow(static_cast<double>(nu + 1), -k);
            sum += lam[nu];
        }
        if (normalize) {
            const double scale = static_cast<double>(d) / sum;
            for (double& l : lam) l *= scale;
        }
        return Spectrum(std::move(lam));
    }

    /// The isotropic spectrum Sigma = lambda I_d (one eigenvalue with multiplicity d).
    [[nodiscard]] static Spectrum isotropic(double d, double lambda = 1.0) {
        return Spectrum({lambda}, {d});
    }

    Spectrum(const Spectrum& o) : lam_(o.lam_), w_(o.w_), view_(o.view_) { rebind(); }
    Spectrum(Spectrum&& o) noexcept : lam_(std::move(o.lam_)), w_(std::move(o.w_)), view_(o.view_) { rebind(); }
    Spectrum& operator=(const Spectrum& o) {
        if (this != &o) { lam_ = o.lam_; w_ = o.w_; view_ = o.view_; rebind(); }
        return *this;
    }
    Spectrum& operator=(Spectrum&& o) noexcept {
        if (this != &o) { lam_ = std::move(o.lam_); w_ = std::move(o.w_); view_ = o.view_; rebind(); }
        return *this;
    }
    ~Spectrum() = default;

    [[nodiscard]] const SpectrumView& view() const noexcept { return view_; }
    operator const SpectrumView&() const noexcept { return view_; }  // NOLINT: implicit by design

    [[nodiscard]] const std::vector<double>& eigenvalues() const noexcept { return lam_; }
    [[nodiscard]] const std::vector<double>& weights() const noexcept { return w_; }
    [[nodiscard]] double d() const noexcept { return view_.d; }        ///< sum of the weights
    [[nodiscard]] double trace() const noexcept { return view_.trace; }

private:
    void rebind() noexcept {
        view_.eigenvalues = std::span<const double>(lam_);
        view_.weights = std::span<const double>(w_);
    }
    std::vector<double> lam_, w_;
    SpectrumView view_;
};

namespace detail {

template <class T>
inline Result<T> kappa_result(T value, T deriv, std::uint8_t conv, std::int32_t it, double res,
                              const char* failed) {
    Result<T> r;
    r.value = value;
    r.derivative = deriv;
    r.converged = conv != 0;
    r.iterations = static_cast<int>(it);
    r.residual = res;
    r.message = r.converged ? "converged" : failed;
    return r;
}

inline Result<double> kappa_result(double value, double deriv, std::uint8_t conv, std::int32_t it, double res) {
    return kappa_result<double>(value, deriv, conv, it, res, "not converged (see residual)");
}

inline Result<cplx> kappa_result(cplx value, cplx deriv, std::uint8_t conv, std::int32_t it, double res) {
    return kappa_result<cplx>(value, deriv, conv, it, res, "not reached on the physical branch (see residual)");
}

}  // namespace detail

/// kappa(z) for every real z > 0 of a batch: the physical root kappa >= max(z, kappa0) of
/// z = kappa (1 - df1(kappa)/N).  `derivative` is kappa'(z) = 1 / (1 - df2(kappa)/N); `residual`
/// the relative residual (backward error) of the equation; `iterations` the Newton evaluations.
/// Parallel over the points when compiled with OpenMP (the values do not depend on it).
[[nodiscard]] inline std::vector<Result<double>> kappa(const SpectrumView& s, double N, std::span<const double> z,
                                                       const KappaOptions& opt = {}) {
    const std::size_t n = z.size();
    std::vector<double> value(n), deriv(n), residual(n);
    std::vector<std::uint8_t> conv(n);
    std::vector<std::int32_t> its(n);
    const KappaOut out{value, {}, deriv, {}, conv, its, residual};
    solve_kappa_real(s, N, z, out, opt);
    std::vector<Result<double>> r;
    r.reserve(n);
    for (std::size_t i = 0; i < n; ++i) r.push_back(detail::kappa_result(value[i], deriv[i], conv[i], its[i], residual[i]));
    return r;
}

/// kappa(z) at one real z > 0 (the same value as in any batch containing z).
[[nodiscard]] inline Result<double> kappa(const SpectrumView& s, double N, double z, const KappaOptions& opt = {}) {
    double value = NAN, deriv = NAN, residual = NAN;
    std::uint8_t conv = 0;
    std::int32_t its = 0;
    const KappaOut out{{&value, 1}, {}, {&deriv, 1}, {}, {&conv, 1}, {&its, 1}, {&residual, 1}};
    solve_kappa_real(s, N, std::span<const double>(&z, 1), out, opt);
    return detail::kappa_result(value, deriv, conv, its, residual);
}

/// kappa along complex z (non-zero) in the order given: the branch with kappa ~ z as |z| -> inf
/// and sign Im kappa = sign Im z, continued from point to point (as `lindiff.kappa` with complex z).
/// A point that cannot be reached on the physical branch has converged = false and NaN values.
[[nodiscard]] inline std::vector<Result<cplx>> kappa(const SpectrumView& s, double N, std::span<const cplx> z,
                                                     const KappaOptions& opt = {}) {
    const std::size_t n = z.size();
    std::vector<double> vr(n), vi(n), dr(n), di(n), residual(n);
    std::vector<std::uint8_t> conv(n);
    std::vector<std::int32_t> its(n);
    const KappaOut out{vr, vi, dr, di, conv, its, residual};
    solve_kappa_path(s, N, z, out, opt);
    std::vector<Result<cplx>> r;
    r.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        r.push_back(detail::kappa_result(cplx(vr[i], vi[i]), cplx(dr[i], di[i]), conv[i], its[i], residual[i]));
    return r;
}

/// kappa at one complex z (reached from the real axis along the arc of radius |z|).
[[nodiscard]] inline Result<cplx> kappa(const SpectrumView& s, double N, cplx z, const KappaOptions& opt = {}) {
    return kappa(s, N, std::span<const cplx>(&z, 1), opt).front();
}

/// kappa0: 0 for N >= d, else the root of df1(kappa0) = N (the kernel's `lindiff::kappa0`).
/// `derivative` is d kappa0 / dN (= -1 / sum_nu w lambda / (lambda + kappa0)^2 for N < d; 0 for
/// N >= d, the right derivative at N = d); `residual` is |df1(kappa0) - N| / N for N < d (0
/// above); `iterations` is 0 (the kernel's kappa0 reports no count).
[[nodiscard]] inline Result<double> kappa0(const SpectrumView& s, double N, const RootOptions& opt = {}) {
    Result<double> r;
    try {
        r.value = lindiff::kappa0(s, N, opt);
    } catch (const std::runtime_error& e) {  // the solve failed; std::invalid_argument (bad N) propagates
        r.message = e.what();
        return r;
    }
    if (N >= s.d) {
        r.derivative = 0.0;
        r.residual = 0.0;
    } else {
        const KappaSums k = kappa_sums(s, r.value);
        r.derivative = -1.0 / k.e12;
        r.residual = std::abs(k.df1 - N) / N;
    }
    r.converged = std::isfinite(r.value);
    r.message = r.converged ? "converged" : "not converged";
    return r;
}

/// The Result of a spectral sum evaluated directly (no iteration): exact up to rounding.
[[nodiscard]] inline Result<double> direct_sum(double value, double derivative) {
    Result<double> r;
    r.value = value;
    r.derivative = derivative;
    r.converged = std::isfinite(value);
    r.residual = 0.0;
    r.message = "direct sum";
    return r;
}

/// df1(kappa) = sum_nu w lambda / (lambda + kappa) at a real kappa > -lambda_min; `derivative` is
/// d df1 / d kappa = -sum_nu w lambda / (lambda + kappa)^2 (a direct sum, no cancellation).
[[nodiscard]] inline Result<double> df1(const SpectrumView& s, double kappa) {
    require(std::isfinite(kappa) && kappa > -s.lambda_min, "kappa must be finite and > -lambda_min");
    const KappaSums k = kappa_sums(s, kappa);
    return direct_sum(k.df1, -k.e12);
}

/// df2(kappa) = sum_nu w lambda^2 / (lambda + kappa)^2 at a real kappa > -lambda_min;
/// `derivative` is d df2 / d kappa = -2 sum_nu w lambda^2 / (lambda + kappa)^3.
[[nodiscard]] inline Result<double> df2(const SpectrumView& s, double kappa) {
    require(std::isfinite(kappa) && kappa > -s.lambda_min, "kappa must be finite and > -lambda_min");
    const KappaSums k = kappa_sums(s, kappa);
    return direct_sum(k.df2, -2.0 * k.c3);
}

namespace detail {

template <class F>
Eval<double> eval_with_derivative(F& f, double x) {
    using R = std::invoke_result_t<F&, double>;
    if constexpr (std::is_same_v<std::remove_cvref_t<R>, Eval<double>>) {
        return f(x);
    } else if constexpr (requires(const R& p) { static_cast<double>(p.first); static_cast<double>(p.second); }) {
        const R p = f(x);
        return {static_cast<double>(p.first), static_cast<double>(p.second), 0.0};
    } else {
        static_assert(std::is_convertible_v<R, double>,
                      "find_root: f must return a double, a std::pair (f, f') or a lindiff::Eval<double>");
        // central difference, as lindiff.find_root without fprime
        const double fx = static_cast<double>(f(x));
        const double h = std::cbrt(eps) * std::max(1.0, std::abs(x));
        const double dfx = (static_cast<double>(f(x + h)) - static_cast<double>(f(x - h))) / (2 * h);
        return {fx, dfx, 0.0};
    }
}

}  // namespace detail

/// A root of f in the bracket [lo, hi] (f(lo) and f(hi) of opposite signs) by the kernel's
/// safeguarded Newton (bisection fallback), from the first guess x0 (NaN: the bracket's middle).
///
/// f is any callable of a double returning
///   - a double: f' by a central difference (two more calls per iteration), or
///   - a std::pair<double, double> (f(x), f'(x)), or
///   - a lindiff::Eval<double> {f, f', scale}: scale > 0 makes the residual |f| / scale.
/// `value` is x, `derivative` f'(x), `residual` |f(x)| (or |f| / scale), `iterations` the Newton /
/// bisection steps (evaluations of f and f'); `message` the kernel's status.
template <class F>
    requires std::is_invocable_v<F&, double>
[[nodiscard]] Result<double> find_root(F&& f, double lo, double hi, double x0 = NAN, const RootOptions& opt = {}) {
    require(opt.max_iter >= 1, "max_iter must be >= 1");
    auto fdf = [&f](double x) { return detail::eval_with_derivative(f, x); };
    const RootResult<double> rr = newton_bracketed(fdf, lo, hi, x0, 0, opt);
    Result<double> r;
    r.value = rr.x;
    r.derivative = rr.df;
    r.converged = rr.converged();
    r.iterations = rr.iterations;
    r.residual = rr.residual;
    r.message = to_string(rr.status);
    if (rr.status == RootStatus::bad_bracket) {  // nothing was solved: no x to report
        r.value = NAN;
        r.derivative = NAN;
    }
    return r;
}

}  // namespace lindiff::api
