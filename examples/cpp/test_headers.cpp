// Unit test of the installed lindiff headers (run by CTest): the one-call API against closed
// forms.  Built twice: with lindiff::lindiff only (no Eigen on the include path), and with
// -DLINDIFF_TEST_EIGEN against lindiff::eigen (fixed points; umbrella.cpp adds lindiff.hpp).
// Exit status 0 when every check passes, 1 otherwise.
#include <lindiff/api.hpp>
#if defined(LINDIFF_TEST_EIGEN)
#include <lindiff/api_eigen.hpp>
#endif

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace api = lindiff::api;
using cplx = std::complex<double>;

namespace {

int failures = 0;
int checks = 0;

void check(bool ok, const std::string& what) {
    ++checks;
    if (!ok) {
        ++failures;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), std::numeric_limits<double>::min()); }
double rel(cplx a, cplx b) { return std::abs(a - b) / std::abs(b); }

std::string num(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    return buf;
}

// Sigma = lambda I_d: df1 = d lambda / (lambda + kappa), so z = kappa (1 - df1/N) is the quadratic
//   N kappa^2 + (N lambda - d lambda - z N) kappa - z N lambda = 0,
// whose root kappa ~ z at infinity is the physical one.
double isotropic_kappa(double d, double N, double z, double lambda = 1.0) {
    // roots q/N and c/q with q = -(b + sign(b) sqrt(b^2 - 4 N c)): no cancellation; the positive one
    const double b = N * lambda - d * lambda - z * N, c = -z * N * lambda;
    const double q = -0.5 * (b + std::copysign(std::sqrt(b * b - 4.0 * N * c), b));
    return b > 0 ? c / q : q / N;
}

cplx isotropic_kappa(double d, double N, cplx z, double lambda = 1.0) {
    // both roots (stable form); the physical one has Im kappa / Im z >= 1, the other one < 0
    const cplx b = N * lambda - d * lambda - z * N, c = -z * N * lambda;
    cplx disc = std::sqrt(b * b - 4.0 * N * c);
    if (std::real(std::conj(b) * disc) < 0) disc = -disc;
    const cplx q = -0.5 * (b + disc);
    const cplx r1 = q / N, r2 = c / q;
    return r1.imag() / z.imag() > r2.imag() / z.imag() ? r1 : r2;
}

void test_kappa_isotropic() {
    for (const auto& [d, N] : std::vector<std::pair<double, double>>{{100, 200}, {100, 50}, {1000, 1000}, {30, 7.5}}) {
        const api::Spectrum s = api::Spectrum::isotropic(d);
        for (double z : {1e-8, 1e-3, 0.1, 1.0, 10.0, 1e4}) {
            const api::Result<double> r = api::kappa(s, N, z);
            const double ref = isotropic_kappa(d, N, z);
            const double dref = 1.0 / (1.0 - d / (N * (1 + ref) * (1 + ref)));  // 1 / (1 - df2/N)
            const std::string at = " (d=" + num(d) + " N=" + num(N) + " z=" + num(z) + ")";
            check(r.converged, "kappa converged" + at);
            check(rel(r.value, ref) < 1e-13, "kappa = closed form: " + num(r.value) + " vs " + num(ref) + at);
            check(rel(r.derivative, dref) < 1e-10, "kappa' = closed form: " + num(r.derivative) + " vs " + num(dref) + at);
            check(r.residual <= 1e-14, "kappa residual <= tol" + at);
            check(r.iterations >= 1, "kappa iterations >= 1" + at);
        }
    }
    // the documented example of lindiff.kappa: d = 100, N = 200, z = 1
    check(std::abs(api::kappa(api::Spectrum::isotropic(100), 200, 1.0).value - 1.280776406404) < 1e-12,
          "kappa(1) = 1.280776406404 (the Python docstring's value)");
}

void test_kappa_batch_and_spectrum() {
    const api::Spectrum s = api::Spectrum::powerlaw(500, 1.2);
    check(std::abs(s.d() - 500) < 1e-12 && rel(s.trace(), 500) < 1e-13, "powerlaw: d = 500, Tr = d");
    const std::vector<double> z{1e-6, 1e-2, 0.5, 3.0};
    const std::vector<api::Result<double>> batch = api::kappa(s, 300, z);
    check(batch.size() == z.size(), "batch size");
    for (std::size_t i = 0; i < z.size(); ++i) {
        const api::Result<double> one = api::kappa(s, 300, z[i]);
        check(one.value == batch[i].value && one.derivative == batch[i].derivative,
              "a point's value does not depend on the batch (z = " + num(z[i]) + ")");
        // the equation itself, with the spectral sums of the API
        const double f1 = api::df1(s, one.value).value;
        check(std::abs(one.value * (1 - f1 / 300) - z[i]) <= 1e-12 * (z[i] + one.value),
              "z = kappa (1 - df1/N) at z = " + num(z[i]));
    }
    // the span API the Python module calls, wired by hand, gives the same numbers
    std::vector<double> v(z.size()), dv(z.size()), res(z.size());
    std::vector<std::uint8_t> conv(z.size());
    std::vector<std::int32_t> its(z.size());
    lindiff::solve_kappa_real(s, 300, z, lindiff::KappaOut{v, {}, dv, {}, conv, its, res});
    for (std::size_t i = 0; i < z.size(); ++i) check(v[i] == batch[i].value, "span API = one-call API");

    // copies and moves keep a valid view
    api::Spectrum c = s;
    api::Spectrum m = std::move(c);
    api::Spectrum a = api::Spectrum::isotropic(3);
    a = m;
    check(api::kappa(a, 300, 0.5).value == api::kappa(s, 300, 0.5).value, "copied/moved Spectrum");
    const api::Spectrum w({2.0, 0.5}, {100, 300});
    check(w.d() == 400 && w.trace() == 350, "weighted spectrum: d, trace");
}

void test_kappa_complex() {
    const double d = 100, N = 50;
    const api::Spectrum s = api::Spectrum::isotropic(d);
    for (cplx z : {cplx(1.0, 0.5), cplx(-0.3, 0.2), cplx(2.0, -1.0), cplx(0.05, 1e-3)}) {
        const api::Result<cplx> r = api::kappa(s, N, z);
        const cplx ref = isotropic_kappa(d, N, z);
        const std::string at = " (z = " + num(z.real()) + (z.imag() < 0 ? "" : "+") + num(z.imag()) + "i)";
        check(r.converged, "complex kappa converged" + at);
        check(rel(r.value, ref) < 1e-12, "complex kappa = closed form" + at);
        check(r.value.imag() * z.imag() > 0, "sign Im kappa = sign Im z" + at);
    }
    // a path, in order
    const std::vector<cplx> path{cplx(2, 1), cplx(1, 1), cplx(0.5, 0.5), cplx(0.1, 0.1)};
    const std::vector<api::Result<cplx>> rp = api::kappa(s, N, path);
    for (std::size_t i = 0; i < path.size(); ++i)
        check(rp[i].converged && rel(rp[i].value, isotropic_kappa(d, N, path[i])) < 1e-12, "complex path point");
}

void test_kappa0_df() {
    const api::Spectrum iso = api::Spectrum::isotropic(100);
    const api::Result<double> k0 = api::kappa0(iso, 25);  // (d - N) / N = 3
    check(k0.converged && std::abs(k0.value - 3.0) < 1e-14, "kappa0 = (d - N)/N = 3: " + num(k0.value));
    check(rel(k0.derivative, -(1 + 3.0) * (1 + 3.0) / 100) < 1e-13, "d kappa0/dN = -(1 + kappa0)^2 / d");
    check(k0.residual < 1e-14, "kappa0 residual");
    const api::Result<double> above = api::kappa0(iso, 200);
    check(above.converged && above.value == 0 && above.derivative == 0, "kappa0 = 0 for N >= d");

    const api::Spectrum s = api::Spectrum::powerlaw(400, 1.0);
    const double N = 150, h = 1e-4;
    const api::Result<double> p = api::kappa0(s, N);
    check(p.converged && p.value > 0, "power-law kappa0 > 0 for N < d");
    check(std::abs(api::df1(s, p.value).value - N) <= 1e-12 * N, "df1(kappa0) = N");
    const double fd = (api::kappa0(s, N + h).value - api::kappa0(s, N - h).value) / (2 * h);
    check(rel(p.derivative, fd) < 1e-6, "d kappa0/dN vs central difference: " + num(p.derivative) + " vs " + num(fd));
    check(api::kappa(s, N, 1e-12).value >= p.value, "kappa(z) >= kappa0");

    // df1, df2 of Sigma = I_100 at kappa = 0.5
    const double kk = 0.5;
    const api::Result<double> f1 = api::df1(iso, kk), f2 = api::df2(iso, kk);
    check(rel(f1.value, 100 / 1.5) < 1e-15 && rel(f1.derivative, -100 / 2.25) < 1e-15, "df1 and its derivative");
    check(rel(f2.value, 100 / 2.25) < 1e-15 && rel(f2.derivative, -200 / 3.375) < 1e-15, "df2 and its derivative");
}

void test_find_root() {
    const double r2 = std::sqrt(2.0);
    const api::Result<double> a = api::find_root([](double x) { return x * x - 2; }, 0.0, 2.0);
    check(a.converged && std::abs(a.value - r2) < 4e-16 && std::abs(a.derivative - 2 * r2) < 1e-8,
          "find_root, f' by differences: " + num(a.value));
    const api::Result<double> b =
        api::find_root([](double x) { return std::pair{x * x - 2, 2 * x}; }, 0.0, 2.0, 1.0);
    check(b.converged && std::abs(b.value - r2) < 4e-16 && std::abs(b.derivative - 2 * r2) < 1e-14,
          "find_root, (f, f') pair: " + num(b.value));
    int calls = 0;
    const api::Result<double> c = api::find_root(
        [&calls](double x) { ++calls; return lindiff::Eval<double>{std::cos(x) - x, -std::sin(x) - 1, 1.0}; }, 0.0, 1.0);
    check(c.converged && std::abs(c.value - 0.7390851332151607) < 1e-15 && c.iterations == calls,
          "find_root, lindiff::Eval (iterations = evaluations): " + num(c.value));
    const api::Result<double> bad = api::find_root([](double x) { return x * x + 1; }, -1.0, 1.0);
    check(!bad.converged && std::isnan(bad.value) && bad.message == "invalid bracket", "find_root: no sign change");
}

void test_invalid_arguments() {
    const api::Spectrum s = api::Spectrum::powerlaw(10, 1.0);
    auto throws = [](auto&& fn) {
        try {
            fn();
        } catch (const std::invalid_argument&) {
            return true;
        }
        return false;
    };
    check(throws([&] { (void)api::kappa(s, -1.0, 0.5); }), "N < 0 throws std::invalid_argument");
    check(throws([&] { (void)api::kappa(s, 5.0, -0.5); }), "real z <= 0 throws std::invalid_argument");
    check(throws([&] { (void)api::Spectrum({1.0, -2.0}); }), "a negative eigenvalue throws std::invalid_argument");
    check(throws([&] { (void)api::kappa0(s, 0.0); }), "kappa0 with N = 0 throws std::invalid_argument");
}

#if defined(LINDIFF_TEST_EIGEN)
void test_fixed_point() {
    const api::Result<double> r = api::fixed_point([](double x) { return std::cos(x); }, 1.0);
    const double x = 0.7390851332151607;  // the Dottie number
    check(r.converged && std::abs(r.value - x) < 1e-12, "fixed point of cos: " + num(r.value));
    check(std::abs(r.derivative + std::sin(x)) < 1e-8, "g'(x) = -sin(x) at the fixed point");
    check(r.residual <= 1e-12 * std::abs(r.value) && r.iterations >= 1, "fixed point residual, iterations");

    lindiff::FixedPointOptions picard;
    picard.method = lindiff::FixedPointMethod::picard;
    picard.max_iter = 5;
    const api::Result<double> slow = api::fixed_point([](double y) { return std::cos(y); }, 1.0, picard);
    check(!slow.converged && slow.message == "iteration limit reached", "iteration limit reported, not thrown");

    // vector map x = A x + b with ||A|| < 1: the solution of (I - A) x = b
    Eigen::Matrix2d A;
    A << 0.5, 0.1, -0.2, 0.3;
    const Eigen::Vector2d b(1.0, 2.0);
    const lindiff::FixedPointResult v =
        api::fixed_point([&](const lindiff::Vec& y) { return (A * y + b).eval(); }, lindiff::Vec::Zero(2));
    const Eigen::Vector2d ref = (Eigen::Matrix2d::Identity() - A).partialPivLu().solve(b);
    check(v.converged && (v.x - ref).norm() < 1e-11 * ref.norm(), "vector fixed point (Anderson)");
}
#endif

}  // namespace

int main() {
    test_kappa_isotropic();
    test_kappa_batch_and_spectrum();
    test_kappa_complex();
    test_kappa0_df();
    test_find_root();
    test_invalid_arguments();
#if defined(LINDIFF_TEST_EIGEN)
    test_fixed_point();
    const char* what = "lindiff::eigen";
#else
    const char* what = "lindiff::lindiff";
#endif
    std::printf("%s: %d of %d checks passed\n", what, checks - failures, checks);
    return failures == 0 ? 0 : 1;
}
