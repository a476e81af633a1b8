// lindiff kernel: a population spectrum (distinct eigenvalues with multiplicities) and its
// degrees-of-freedom sums df1(kappa) = sum_nu w_nu lambda_nu / (lambda_nu + kappa) and
// df2(kappa) = sum_nu w_nu lambda_nu^2 / (lambda_nu + kappa)^2, real or complex kappa.
#pragma once

#include <algorithm>
#include <span>

#include "common.hpp"
#include "fastmath.hpp"

namespace lindiff {

/// Non-owning view of a spectrum.  `weights` may be empty (all multiplicities 1).
struct SpectrumView {
    std::span<const double> eigenvalues;
    std::span<const double> weights;  // empty or the same length as eigenvalues
    double d = 0;                     // sum of weights (the dimension)
    double trace = 0;                 // sum_nu w_nu lambda_nu
    double lambda_min = 0;
    double lambda_max = 0;

    SpectrumView() = default;

    /// Validate and summarise.  Throws std::invalid_argument naming the bad argument.
    SpectrumView(std::span<const double> lam, std::span<const double> w = {})
        : eigenvalues(lam), weights(w) {
        require(!lam.empty(), "eigenvalues must not be empty");
        require(w.empty() || w.size() == lam.size(),
                "weights must have the same length as eigenvalues");
        lambda_min = std::numeric_limits<double>::infinity();
        lambda_max = 0;
        for (std::size_t i = 0; i < lam.size(); ++i) {
            const double l = lam[i];
            require(std::isfinite(l) && l > 0, [&] {
                return "eigenvalues must be finite and > 0 (got " + std::to_string(l) + " at index " +
                       std::to_string(i) + ")";
            });
            const double wi = w.empty() ? 1.0 : w[i];
            require(std::isfinite(wi) && wi > 0, [&] {
                return "weights must be finite and > 0 (got " + std::to_string(wi) + " at index " +
                       std::to_string(i) + ")";
            });
            d += wi;
            trace += wi * l;
            lambda_min = std::min(lambda_min, l);
            lambda_max = std::max(lambda_max, l);
        }
    }

    [[nodiscard]] LINDIFF_HD std::size_t size() const noexcept { return eigenvalues.size(); }
    [[nodiscard]] LINDIFF_HD bool weighted() const noexcept { return !weights.empty(); }
};

/// The pair (df1, df2) at one point.
/// A pair of spectral sums (first, second power).
template <class T>
struct SumPair {
    T first;
    T second;
};

/// sum_nu w_nu t_nu and sum_nu w_nu t_nu^2 with t_nu = a_nu / (lambda_nu + kappa), where
/// a_nu = lambda_nu (TimesLambda: df1, df2) or 1 (resolvent sums S1, S2).  One division per
/// eigenvalue, SIMD reductions on the host.
template <bool TimesLambda>
LINDIFF_HD inline SumPair<double> power_sums(const SpectrumView& s, double kappa) noexcept {
    const double* lam = s.eigenvalues.data();
    const double* w = s.weighted() ? s.weights.data() : nullptr;
    const std::size_t n = s.size();
    double a1 = 0, a2 = 0;
    if (w) {
        LINDIFF_SIMD_SUM(a1, a2)
        for (std::size_t i = 0; i < n; ++i) {
            const double t = (TimesLambda ? lam[i] : 1.0) / (lam[i] + kappa);
            const double wt = w[i] * t;
            a1 += wt;
            a2 = fma_if_fast(wt, t, a2);
        }
    } else {
        LINDIFF_SIMD_SUM(a1, a2)
        for (std::size_t i = 0; i < n; ++i) {
            const double t = (TimesLambda ? lam[i] : 1.0) / (lam[i] + kappa);
            a1 += t;
            a2 = fma_if_fast(t, t, a2);
        }
    }
    return {a1, a2};
}

/// The same at complex kappa (not in (-inf, -lambda_min]), in real arithmetic so it vectorises.
template <bool TimesLambda>
inline SumPair<cplx> power_sums(const SpectrumView& s, cplx kappa) noexcept {
    const double* lam = s.eigenvalues.data();
    const double* w = s.weighted() ? s.weights.data() : nullptr;
    const std::size_t n = s.size();
    const double kr = kappa.real(), ki = kappa.imag();
    double r1 = 0, i1 = 0, r2 = 0, i2 = 0;
    LINDIFF_SIMD_SUM(r1, i1, r2, i2)
    for (std::size_t i = 0; i < n; ++i) {
        const double x = lam[i] + kr;
        const double inv = (TimesLambda ? lam[i] : 1.0) / (x * x + ki * ki);
        const double tr = x * inv, ti = -ki * inv;  // a / (lambda + kappa)
        const double wi = w ? w[i] : 1.0;
        r1 += wi * tr;
        i1 += wi * ti;
        r2 += wi * (tr * tr - ti * ti);
        i2 += wi * (2.0 * tr * ti);
    }
    return {cplx(r1, i1), cplx(r2, i2)};
}

/// df1 = sum w lambda/(lambda + kappa) and df2 = sum w lambda^2/(lambda + kappa)^2 (real or complex).
template <class T>
struct DfPair {
    T df1;
    T df2;
};

template <class T>
inline DfPair<T> df12(const SpectrumView& s, T kappa) noexcept {
    const SumPair<T> p = power_sums<true>(s, kappa);
    return {p.first, p.second};
}

/// Resolvent sums S1 = sum_nu w_nu / (lambda_nu + kappa) and S2 = sum_nu w_nu / (lambda_nu + kappa)^2.
/// df1 = d - kappa S1 and df2 = d - 2 kappa S1 + kappa^2 S2, but forms built on S1, S2 avoid the
/// cancellation in 1 - df1/N when N is close to d and kappa is small.
template <class T>
struct ResolventSums {
    T s1;
    T s2;
};

LINDIFF_HD_ANY_TYPE
template <class T>
LINDIFF_HD inline ResolventSums<T> resolvent_sums(const SpectrumView& s, T kappa) noexcept {
    const SumPair<T> p = power_sums<false>(s, kappa);
    return {p.first, p.second};
}

/// The sums a real kappa solve needs, in one pass (one division per eigenvalue), with
/// u = 1/(lambda + kappa), t = lambda u:
///   s1 = sum w u, s2 = sum w u^2, c3 = sum w t^2 u (curvature), df1 = sum w t, df2 = sum w t^2,
///   e12 = sum w t u = sum w lambda/(lambda + kappa)^2 (= (df1 - df2)/kappa without cancellation),
///   e13 = sum w t u^2 (its kappa-derivative is -2 e13).
struct KappaSums {
    double s1, s2, c3, df1, df2, e12, e13;
};

/// Spectra with at most this many values (compressed ones: tens of nodes): the batch solver
/// evaluates its starts 8 at a time in SIMD lanes (kappa_sums_lanes, each summed in index
/// order) and the one-point solve its start the same way (kappa_sums_ordered), so both get the
/// same bits; every other evaluation uses kappa_sums (SIMD reduction over the nodes).
inline constexpr std::size_t kappa_sums_ordered_max = 256;

/// kappa_sums at L values of kappa at once, each summed over the nodes in index order: lane j is
/// bitwise kappa_sums(s, kappa[j]) for s.size() <= kappa_sums_ordered_max. Output in SoA form.
template <int L>
struct KappaSumsLanes {
    double s1[L], s2[L], c3[L], df1[L], df2[L], e12[L], e13[L];
    [[nodiscard]] LINDIFF_HD KappaSums lane(int j) const noexcept { return {s1[j], s2[j], c3[j], df1[j], df2[j], e12[j], e13[j]}; }
};

template <int L>
LINDIFF_HD inline void kappa_sums_lanes(const SpectrumView& s, const double* kappa, KappaSumsLanes<L>& a) noexcept {
    const double* lam = s.eigenvalues.data();
    const double* w = s.weighted() ? s.weights.data() : nullptr;
    const std::size_t n = s.size();
    for (int j = 0; j < L; ++j) a.s1[j] = a.s2[j] = a.c3[j] = a.df1[j] = a.df2[j] = a.e12[j] = a.e13[j] = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double l = lam[i];
        if (w) {
            const double wi = w[i];
            LINDIFF_PRAGMA(omp simd)
            for (int j = 0; j < L; ++j) {
                const double u = 1.0 / (l + kappa[j]);
                const double t = l * u;
                const double wu = wi * u, wt = wi * t, wtu = wt * u;
                a.s1[j] = fma_if_fast(wi, u, a.s1[j]);
                a.s2[j] = fma_if_fast(wu, u, a.s2[j]);
                a.c3[j] = fma_if_fast(wtu, t, a.c3[j]);
                a.df1[j] = fma_if_fast(wi, t, a.df1[j]);
                a.df2[j] = fma_if_fast(wt, t, a.df2[j]);
                a.e12[j] = fma_if_fast(wt, u, a.e12[j]);
                a.e13[j] = fma_if_fast(wtu, u, a.e13[j]);
            }
        } else {
            LINDIFF_PRAGMA(omp simd)
            for (int j = 0; j < L; ++j) {
                const double u = 1.0 / (l + kappa[j]);
                const double t = l * u;
                const double tu = t * u;
                a.s1[j] += u;
                a.s2[j] = fma_if_fast(u, u, a.s2[j]);
                a.c3[j] = fma_if_fast(tu, t, a.c3[j]);
                a.df1[j] = fma_if_fast(l, u, a.df1[j]);
                a.df2[j] = fma_if_fast(t, t, a.df2[j]);
                a.e12[j] = fma_if_fast(t, u, a.e12[j]);
                a.e13[j] = fma_if_fast(tu, u, a.e13[j]);
            }
        }
    }
}

/// kappa_sums summed in index order: bitwise one lane of kappa_sums_lanes (the batch solver's
/// first evaluation for small spectra; the one-point solve uses it there to match the batch).
LINDIFF_HD inline KappaSums kappa_sums_ordered(const SpectrumView& s, double kappa) noexcept {
    KappaSumsLanes<1> one;
    kappa_sums_lanes<1>(s, &kappa, one);
    return one.lane(0);
}

LINDIFF_HD inline KappaSums kappa_sums(const SpectrumView& s, double kappa) noexcept {
    const double* lam = s.eigenvalues.data();
    const double* w = s.weighted() ? s.weights.data() : nullptr;
    const std::size_t n = s.size();
    double a1 = 0, a2 = 0, a3 = 0, f1 = 0, f2 = 0, e2 = 0, e3 = 0;
    if (w) {
        LINDIFF_SIMD_SUM(a1, a2, a3, f1, f2, e2, e3)
        for (std::size_t i = 0; i < n; ++i) {
            const double u = 1.0 / (lam[i] + kappa);
            const double t = lam[i] * u;
            const double wu = w[i] * u, wt = w[i] * t, wtu = wt * u;
            a1 += wu;
            a2 = fma_if_fast(wu, u, a2);
            a3 = fma_if_fast(wtu, t, a3);
            f1 += wt;
            f2 = fma_if_fast(wt, t, f2);
            e2 += wtu;
            e3 = fma_if_fast(wtu, u, e3);
        }
    } else {
        LINDIFF_SIMD_SUM(a1, a2, a3, f1, f2, e2, e3)
        for (std::size_t i = 0; i < n; ++i) {
            const double u = 1.0 / (lam[i] + kappa);
            const double t = lam[i] * u;
            const double tu = t * u;
            a1 += u;
            a2 = fma_if_fast(u, u, a2);
            a3 = fma_if_fast(tu, t, a3);
            f1 += t;
            f2 = fma_if_fast(t, t, f2);
            e2 += tu;
            e3 = fma_if_fast(tu, u, e3);
        }
    }
    return {a1, a2, a3, f1, f2, e2, e3};
}

}  // namespace lindiff
