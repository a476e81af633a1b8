// lindiff CUDA backend: kappa(z) for real z, one thread per point, running the kernel's own
// per-point solver (lindiff::solve_kappa_real_batch_point is __host__ __device__).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "backend.hpp"
#include "device_buffer.cuh"

namespace lindiff::cuda {

namespace {

using detail::check;
using detail::DeviceBuffer;

__global__ void kappa_real_kernel(SpectrumView s, double N, double k0, LatticeView lat,
                                  const double* z, std::size_t n, KappaOptions opt, double* value,
                                  double* deriv, std::uint8_t* converged, std::int32_t* iterations,
                                  double* residual) {
    const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    solve_kappa_real_batch_point(s, N, k0, lat, z[i], start_log(z[i]), opt, value + i, deriv + i, converged + i,
                                 iterations + i, residual + i);
}

}  // namespace

int device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error of a missing driver
        return 0;
    }
    return n;
}

std::string device_description() {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return std::string("no CUDA device: ") + cudaGetErrorString(e);
    }
    if (n == 0) return "no CUDA device";
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, 0), "cudaGetDeviceProperties");
    return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
           std::to_string(p.totalGlobalMem >> 20) + " MiB)";
}

void solve_kappa_real(const SpectrumView& s, double N, std::span<const double> z, const KappaOut& out,
                      const KappaOptions& opt) {
    check_kappa_real_args(N, z, opt);
    if (z.empty()) return;
    if (device_count() == 0) throw std::runtime_error("lindiff CUDA: " + device_description());
    const double k0 = kappa0(s, N);
    const KappaLattice lattice = build_kappa_lattice(s, N, k0, z, opt);  // host, OpenMP

    const std::size_t n = z.size();
    DeviceBuffer<double> d_lam(s.eigenvalues.data(), s.size());
    DeviceBuffer<double> d_w(s.weighted() ? s.weights.data() : nullptr, s.weighted() ? s.size() : 0);
    DeviceBuffer<LatticeNode> d_table(lattice.table.data(), lattice.table.size());
    DeviceBuffer<double> d_z(z.data(), n), d_val(n), d_der(n), d_res(n);
    DeviceBuffer<std::uint8_t> d_conv(n);
    DeviceBuffer<std::int32_t> d_it(n);

    SpectrumView ds = s;  // same summary, device arrays
    ds.eigenvalues = std::span<const double>(d_lam.ptr, s.size());
    ds.weights = s.weighted() ? std::span<const double>(d_w.ptr, s.size()) : std::span<const double>{};
    LatticeView dl = lattice.view();
    dl.table = d_table.ptr;

    const int block = 128;
    const unsigned grid = static_cast<unsigned>((n + block - 1) / block);
    kappa_real_kernel<<<grid, block>>>(ds, N, k0, dl, d_z.ptr, n, opt, d_val.ptr, d_der.ptr,
                                       d_conv.ptr, d_it.ptr, d_res.ptr);
    check(cudaGetLastError(), "kernel launch");
    check(cudaDeviceSynchronize(), "kernel");
    d_val.to_host(out.value_re.data());
    d_der.to_host(out.deriv_re.data());
    d_conv.to_host(out.converged.data());
    d_it.to_host(out.iterations.data());
    d_res.to_host(out.residual.data());
}

}  // namespace lindiff::cuda
