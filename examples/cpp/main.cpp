// kappa(z) of a power-law spectrum from C++, through the installed lindiff package.
//
//   kappa_example [d k N z...]      (default: d = 1000, k = 1, N = 600, z = 1e-6 1e-3 0.1 1 10)
//
// Prints the spectrum, N and kappa0, then one line per z: z, kappa, kappa'(z), converged,
// iterations, residual, at full precision (%.17g), for compare_with_python.py to check against
// lindiff.kappa(z, lindiff.Spectrum.powerlaw(d, k), N).
#include <lindiff/api.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

int main(int argc, char** argv) {
    namespace api = lindiff::api;
    std::size_t d = 1000;
    double k = 1.0, N = 600;
    std::vector<double> z{1e-6, 1e-3, 0.1, 1.0, 10.0};
    if (argc > 1) {
        if (argc < 5) {
            std::fprintf(stderr, "usage: %s [d k N z...]\n", argv[0]);
            return 2;
        }
        d = static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10));
        k = std::strtod(argv[2], nullptr);
        N = std::strtod(argv[3], nullptr);
        z.assign(argc - 4, 0.0);
        for (int i = 4; i < argc; ++i) z[i - 4] = std::strtod(argv[i], nullptr);
    }
    try {
        const api::Spectrum spec = api::Spectrum::powerlaw(d, k);   // as lindiff.Spectrum.powerlaw
        const api::Result<double> k0 = api::kappa0(spec, N);
        const std::vector<api::Result<double>> res = api::kappa(spec, N, z);  // one batch
        std::printf("spectrum powerlaw %zu %.17g\n", d, k);
        std::printf("N %.17g\n", N);
        std::printf("kappa0 %.17g\n", k0.value);
        std::printf("# z kappa kappa_prime converged iterations residual\n");
        bool all = true;
        for (std::size_t i = 0; i < z.size(); ++i) {
            const api::Result<double>& r = res[i];
            std::printf("%.17g %.17g %.17g %d %d %.3g\n", z[i], r.value, r.derivative, r.converged ? 1 : 0,
                        r.iterations, r.residual);
            all = all && r.converged;
        }
        return all ? 0 : 1;
    } catch (const std::exception& e) {   // invalid arguments: std::invalid_argument
        std::fprintf(stderr, "kappa_example: %s\n", e.what());
        return 2;
    }
}
