// lindiff CUDA backend: the simulator of simulate.hpp (GD / SGD training of the per-time linear
// denoisers, the linear DDPM sampler) on the GPU.
//
// The CPU reference is lindiff::train_gd / train_sgd / sample_ddpm; this file runs the same
// recurrences, records at the same steps, freezes under the same rule and draws from the same
// Philox streams (every normal / index is computed from its counter, as fill_normal and
// fill_index define them), so GPU and CPU agree up to the order of floating-point sums (and the
// last-bit differences of the device's log / sin / cos inside Box-Muller).
//
// Design: all (draw, t) matrices live on the device for the whole run; a host loop over steps
// launches
//   - a batched shared-memory tiled DGEMM (16 x 16 threads, each a R x R register block, tile
//     16R x 16R x 16, R = 2 for matrices up to 32 x 32, else 4) with a fused epilogue,
//   - elementwise kernels (GD update, SGD minibatch + noise), and
//   - at record steps one block per matrix that reduces the loss sums in a fixed tree order
//     (deterministic: no atomics, no dependence on scheduling).
// Losses stay on the device and are copied back at the end.
#include <cuda_runtime.h>

#include <lindiff/rng.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "device_buffer.cuh"

namespace lindiff::cuda {

namespace {

// Stream purposes (counter word c3): lindiff::Stream of simulate.hpp (not included here: Eigen).
constexpr std::uint32_t kStreamSgdNoise = 0, kStreamSgdIndex = 1, kStreamSampler = 2;

using detail::check;
using detail::check_launch;
using detail::DeviceBuffer;

void require_device() {
    if (device_count() == 0) throw std::runtime_error("lindiff CUDA: " + device_description());
}

constexpr int kThreads = 256;  // every kernel of this file runs 256-thread blocks

/// Blocks for a grid-stride loop over `total` items.
unsigned grid_for(std::int64_t total) {
    const std::int64_t blocks = (total + kThreads - 1) / kThreads;
    return unsigned(std::clamp<std::int64_t>(blocks, 1, 65535));
}

// ------------------------------------------------------------------------------ RNG (by counter)

/// Normal q of the stream (key, c1, c2, c3): counter (q / 2, c1, c2, c3), component q % 2, exactly
/// as lindiff::fill_normal lays them out.
__device__ inline double normal_at(const Philox4x32& g, std::uint64_t q, std::uint32_t c1, std::uint32_t c2,
                                   std::uint32_t c3) {
    double z0, z1;
    normal_pair(g, std::uint32_t(q / 2), c1, c2, c3, z0, z1);
    return (q & 1) ? z1 : z0;
}

/// Index j of lindiff::fill_index(g, c1, c2, c3, bound, ...): word j % 4 of block j / 4.
__device__ inline std::int64_t index_at(const Philox4x32& g, std::int64_t j, std::uint32_t c1, std::uint32_t c2,
                                        std::uint32_t c3, std::uint32_t bound) {
    std::uint32_t w[4];
    g(std::uint32_t(j / 4), c1, c2, c3, w);
    return std::int64_t((std::uint64_t(w[j % 4]) * bound) >> 32);
}

// ------------------------------------------------------------------------------ batched DGEMM

/// A batch of matrices: element (r, c) of matrix u is p[(u / batch_div) * batch_stride + r * rs + c * cs]
/// (batch_div = nt shares one matrix per draw between the nt diffusion times).  One of rs, cs is 1.
struct MatRef {
    const double* p;
    std::int64_t batch_stride, rs, cs;
    int batch_div;
};

/// out(u, r, c) = epi(A_u B_u)(r, c), A_u: M x K, B_u: K x N, for u < batch, skipping the u with
/// skip[u] >= 0 (skip: diverged_at, or null).  Each output is one sequential fma chain over k
/// (fixed order).  Block: 256 threads = 16 x 16, thread (ty, tx) owns rows ty + 16 i and
/// columns tx + 16 j, i, j < R.  The epilogue must not write what A or B read.
template <int R, class Epi>
__global__ void __launch_bounds__(kThreads)
    gemm_kernel(std::int64_t M, std::int64_t N, std::int64_t K, int batch, MatRef A, MatRef B,
                const std::int64_t* skip, Epi epi) {
    constexpr int TILE = 16 * R, BK = 16;
    __shared__ double As[BK][TILE + 1];
    __shared__ double Bs[BK][TILE + 1];
    const int tid = int(threadIdx.x), tx = tid % 16, ty = tid / 16;
    const std::int64_t row0 = std::int64_t(blockIdx.y) * TILE, col0 = std::int64_t(blockIdx.x) * TILE;
    for (int u = int(blockIdx.z); u < batch; u += int(gridDim.z)) {
        if (skip != nullptr && skip[u] >= 0) continue;  // uniform over the block
        const double* a = A.p + std::int64_t(u / A.batch_div) * A.batch_stride;
        const double* b = B.p + std::int64_t(u / B.batch_div) * B.batch_stride;
        double acc[R][R];
#pragma unroll
        for (int i = 0; i < R; ++i)
#pragma unroll
            for (int j = 0; j < R; ++j) acc[i][j] = 0.0;
        for (std::int64_t k0 = 0; k0 < K; k0 += BK) {
            // TILE x BK of A and BK x TILE of B: R elements per thread each, consecutive threads
            // along the unit-stride direction of global memory (coalesced loads)
#pragma unroll
            for (int l = 0; l < R; ++l) {
                const int e = tid + kThreads * l;
                int rr, kk;
                if (A.cs == 1) {
                    kk = e % BK, rr = e / BK;
                } else {
                    rr = e % TILE, kk = e / TILE;
                }
                const std::int64_t gr = row0 + rr, gk = k0 + kk;
                As[kk][rr] = (gr < M && gk < K) ? a[gr * A.rs + gk * A.cs] : 0.0;
            }
#pragma unroll
            for (int l = 0; l < R; ++l) {
                const int e = tid + kThreads * l;
                int kk, cc;
                if (B.cs == 1) {
                    cc = e % TILE, kk = e / TILE;
                } else {
                    kk = e % BK, cc = e / BK;
                }
                const std::int64_t gc = col0 + cc, gk = k0 + kk;
                Bs[kk][cc] = (gc < N && gk < K) ? b[gk * B.rs + gc * B.cs] : 0.0;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < BK; ++kk) {
                double ar[R], br[R];
#pragma unroll
                for (int i = 0; i < R; ++i) ar[i] = As[kk][ty + 16 * i];
#pragma unroll
                for (int j = 0; j < R; ++j) br[j] = Bs[kk][tx + 16 * j];
#pragma unroll
                for (int i = 0; i < R; ++i)
#pragma unroll
                    for (int j = 0; j < R; ++j) acc[i][j] = fma(ar[i], br[j], acc[i][j]);
            }
            __syncthreads();
        }
#pragma unroll
        for (int i = 0; i < R; ++i)
#pragma unroll
            for (int j = 0; j < R; ++j) {
                const std::int64_t r = row0 + ty + 16 * i, c = col0 + tx + 16 * j;
                if (r < M && c < N) epi(u, r, c, acc[i][j]);
            }
    }
}

template <int R, class Epi>
void launch_gemm(std::int64_t M, std::int64_t N, std::int64_t K, int batch, const MatRef& A, const MatRef& B,
                 const std::int64_t* skip, const Epi& epi) {
    constexpr std::int64_t TILE = 16 * R;
    const dim3 grid(unsigned((N + TILE - 1) / TILE), unsigned((M + TILE - 1) / TILE),
                    unsigned(std::min(batch, 65535)));
    gemm_kernel<R, Epi><<<grid, kThreads>>>(M, N, K, batch, A, B, skip, epi);
    check_launch("gemm kernel launch");
}

/// Batched GEMM with the tile size fitted to the shape.
template <class Epi>
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, int batch, const MatRef& A, const MatRef& B,
          const std::int64_t* skip, const Epi& epi) {
    if ((M + 63) / 64 > 65535) throw std::runtime_error("lindiff CUDA: matrix dimension too large");
    if (M <= 32 && N <= 32)
        launch_gemm<2>(M, N, K, batch, A, B, skip, epi);
    else
        launch_gemm<4>(M, N, K, batch, A, B, skip, epi);
}

/// out(u, r, c) = acc, row-major d x d per u.
struct StoreEpi {
    double* out;
    std::int64_t stride, ld;
    __device__ void operator()(int u, std::int64_t r, std::int64_t c, double acc) const {
        out[u * stride + r * ld + c] = acc;
    }
};

/// SGD residual R = E - W Xt (d x m column-major per u).
struct SgdResidualEpi {
    const double* E;
    double* R;
    std::int64_t stride, d;
    __device__ void operator()(int u, std::int64_t r, std::int64_t c, double acc) const {
        const std::int64_t o = u * stride + r + c * d;
        R[o] = E[o] - acc;
    }
};

/// SGD step W <- shrink W + gain (R Xt^T) (d x d row-major per u).
struct SgdUpdateEpi {
    double* W;
    std::int64_t stride, d;
    double shrink, gain;
    __device__ void operator()(int u, std::int64_t r, std::int64_t c, double acc) const {
        const std::int64_t o = u * stride + r * d + c;
        W[o] = shrink * W[o] + gain * acc;
    }
};

/// Sampler step for time t: U_next = (U - coef V) inv_sqrt_alpha + sigma xi, V = W_t U (U: d x n
/// column-major; column col is column col % block of block col / block, whose noise is the
/// d x cols column-major stream (t, block index, sampler)).
struct SamplerEpi {
    const double* U;
    double* Unext;
    std::int64_t d, block;
    double coef, inv_sqrt_alpha, sigma;
    Philox4x32 key;
    std::uint32_t t;
    __device__ void operator()(int, std::int64_t r, std::int64_t c, double acc) const {
        const std::int64_t o = r + c * d;
        double x = inv_sqrt_alpha * (U[o] - coef * acc);
        if (sigma != 0.0) {
            const std::int64_t j = c / block, q = r + (c - j * block) * d;
            x += sigma * normal_at(key, std::uint64_t(q), t, std::uint32_t(j), kStreamSampler);
        }
        Unext[o] = x;
    }
};

// ------------------------------------------------------------------------------ reductions

/// Sum of the 256 values v[0..255] of a block in a fixed tree order; the result in v[0].
template <int NQ>
__device__ void block_sum(double (*v)[kThreads]) {
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if (int(threadIdx.x) < s)
#pragma unroll
            for (int q = 0; q < NQ; ++q) v[q][threadIdx.x] += v[q][threadIdx.x + s];
        __syncthreads();
    }
}

/// sw[u] = sum (Q o W) = Tr[W Sigma W^T] for Q = W Sigma (full Sigma).  One block per matrix.
__global__ void __launch_bounds__(kThreads)
    quad_full_kernel(int units, std::int64_t dd, const double* W, const double* Q, const std::int64_t* skip,
                     double* sw) {
    __shared__ double v[1][kThreads];
    for (int u = int(blockIdx.x); u < units; u += int(gridDim.x)) {
        if (skip != nullptr && skip[u] >= 0) continue;
        const double* w = W + u * dd;
        const double* q = Q + u * dd;
        double s = 0.0;
        for (std::int64_t e = threadIdx.x; e < dd; e += kThreads) s += q[e] * w[e];
        v[0][threadIdx.x] = s;
        __syncthreads();
        block_sum<1>(v);
        if (threadIdx.x == 0) sw[u] = v[0][0];
        __syncthreads();
    }
}

struct LossArgs {
    int units, nt, d, nrec, r;
    const double* W;           // units x d x d
    const double* WC;          // units x d x d: W C
    const double* sigma_diag;  // d (diagonal Sigma), or null with
    const double* sw;          // units: Tr[W Sigma W^T] (full Sigma)
    const double* a2;          // nt
    const double* bt;          // nt: sqrt(b2)
    double c, threshold;
    double* test;  // draws x nrec x nt
    double* train;
    std::int64_t* div;  // units: diverged_at (-1: not yet)
    bool sgd;           // SGD: a matrix diverged earlier repeats its last record (no recompute)
};

/// Record r of every matrix (detail::LossRecorder::record, then the freezing rule of train_gd /
/// train_sgd).  One block per matrix.
__global__ void __launch_bounds__(kThreads) loss_kernel(LossArgs p) {
    __shared__ double v[4][kThreads];
    const std::int64_t d = p.d, dd = d * d;
    for (int u = int(blockIdx.x); u < p.units; u += int(gridDim.x)) {
        const int b = u / p.nt, k = u % p.nt;
        const std::int64_t o = (std::int64_t(b) * p.nrec + p.r) * p.nt + k;
        if (p.sgd && p.div[u] >= 0) {  // frozen earlier (uniform over the block)
            if (threadIdx.x == 0) {
                p.test[o] = p.test[o - p.nt];
                p.train[o] = p.train[o - p.nt];
            }
            continue;
        }
        const double* w = p.W + u * dd;
        const double* wc = p.WC + u * dd;
        const double bt = p.bt[k];
        double res = 0.0, cw = 0.0, sw = 0.0, nrm = 0.0;
        for (std::int64_t e = threadIdx.x; e < dd; e += kThreads) {
            const std::int64_t i = e / d, j = e - i * d;
            const double x = w[e];
            const double rr = (i == j ? 1.0 : 0.0) - bt * x;
            res += rr * rr;
            cw += wc[e] * x;
            if (p.sigma_diag != nullptr) sw += x * x * p.sigma_diag[j];
            nrm += x * x;
        }
        v[0][threadIdx.x] = res;
        v[1][threadIdx.x] = cw;
        v[2][threadIdx.x] = sw;
        v[3][threadIdx.x] = nrm;
        __syncthreads();
        block_sum<4>(v);
        if (threadIdx.x == 0) {
            const double dd_ = double(p.d), a2 = p.a2[k];
            const double swu = p.sigma_diag != nullptr ? v[2][0] : p.sw[u];
            const double train = (v[0][0] + a2 * v[1][0]) / dd_;
            const double test = (v[0][0] + a2 * swu) / dd_;
            p.train[o] = train;
            p.test[o] = test;
            const double obj = train + p.c * v[3][0] / dd_;
            if (p.div[u] < 0 && !(isfinite(obj) && obj <= p.threshold)) p.div[u] = p.r;
        }
        __syncthreads();
    }
}

// ------------------------------------------------------------------------------ elementwise

/// GD step of every matrix not frozen: W <- s_k W - g_k (W C) + h_k I, with
/// s_k = 1 - 2 eta (b2_k + c), g_k = 2 eta a2_k, h_k = 2 eta sqrt(b2_k).
__global__ void __launch_bounds__(kThreads)
    gd_update_kernel(std::int64_t total, int nt, std::int64_t d, double* W, const double* P, const double* s,
                     const double* g, const double* h, const std::int64_t* div) {
    const std::int64_t dd = d * d;
    for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < total;
         e += std::int64_t(gridDim.x) * blockDim.x) {
        const std::int64_t u = e / dd, rc = e - u * dd;
        if (div[u] >= 0) continue;
        const int k = int(u % nt);
        double x = s[k] * W[e] - g[k] * P[e];
        if (rc / d == rc % d) x += h[k];
        W[e] = x;
    }
}

/// SGD minibatch of step `step` for every matrix not frozen: E (d x m column-major) = normals of
/// stream (step, k, sgd_noise), idx_j of stream (step, k, sgd_index), Xt = a_k X[:, idx] + bt_k E.
/// One thread per pair of normals (one Philox block).
__global__ void __launch_bounds__(kThreads)
    sgd_batch_kernel(int units, int nt, std::int64_t d, std::int64_t m, std::int64_t Ncols, std::uint32_t step,
                     const std::uint32_t* keys, const double* X, const double* a, const double* bt,
                     const std::int64_t* div, double* E, double* Xt) {
    const std::int64_t dm = d * m, pairs = (dm + 1) / 2, total = std::int64_t(units) * pairs;
    for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < total;
         e += std::int64_t(gridDim.x) * blockDim.x) {
        const std::int64_t u = e / pairs, pr = e - u * pairs;
        if (div[u] >= 0) continue;
        const int b = int(u / nt), k = int(u % nt);
        const Philox4x32 g{{keys[2 * b], keys[2 * b + 1]}};
        double z[2];
        normal_pair(g, std::uint32_t(pr), step, std::uint32_t(k), kStreamSgdNoise, z[0], z[1]);
        const double* xb = X + std::int64_t(b) * d * Ncols;
        for (int h = 0; h < 2; ++h) {
            const std::int64_t q = 2 * pr + h;
            if (q >= dm) break;
            const std::int64_t i = q % d, j = q / d;
            const std::int64_t col = index_at(g, j, step, std::uint32_t(k), kStreamSgdIndex, std::uint32_t(Ncols));
            E[u * dm + q] = z[h];
            Xt[u * dm + q] = a[k] * xb[i * Ncols + col] + bt[k] * z[h];
        }
    }
}

/// u_T: U (d x n column-major) from the streams (T + 1, block index, sampler).
__global__ void __launch_bounds__(kThreads)
    sampler_init_kernel(std::int64_t d, std::int64_t n, std::int64_t block, Philox4x32 key, std::uint32_t c1,
                        double* U) {
    const std::int64_t total = d * n;
    for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
         o += std::int64_t(gridDim.x) * blockDim.x) {
        const std::int64_t r = o % d, c = o / d, j = c / block, q = r + (c - j * block) * d;
        U[o] = normal_at(key, std::uint64_t(q), c1, std::uint32_t(j), kStreamSampler);
    }
}

/// out (d x n row-major) = U (d x n column-major).
__global__ void __launch_bounds__(kThreads)
    transpose_kernel(std::int64_t d, std::int64_t n, const double* U, double* out) {
    const std::int64_t total = d * n;
    for (std::int64_t o = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; o < total;
         o += std::int64_t(gridDim.x) * blockDim.x) {
        const std::int64_t r = o / n, c = o - r * n;
        out[o] = U[r + c * d];
    }
}

// ------------------------------------------------------------------------------ host drivers

struct Sizes {
    int draws, d, nt, nrec, units;
    std::int64_t dd, steps;
};

Sizes sizes_of(const TrainArgs& p) {
    Sizes s{};
    s.draws = p.draws;
    s.d = p.d;
    s.nt = int(p.a2.size());
    s.nrec = int(p.record_steps.size());
    s.units = p.draws * s.nt;
    s.dd = std::int64_t(p.d) * p.d;
    s.steps = p.record_steps.back();
    return s;
}

/// Everything both trainers keep on the device.
struct TrainState {
    Sizes s;
    bool diag;
    DeviceBuffer<double> C, sigma, a2, bt, W, P, sw, test, train;
    DeviceBuffer<std::int64_t> div;

    static std::vector<double> sqrt_of(std::span<const double> x) {
        std::vector<double> out(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) out[i] = std::sqrt(x[i]);
        return out;
    }
    TrainState(const TrainArgs& p, const Sizes& sz)
        : s(sz),
          diag(p.sigma.size() == std::size_t(p.d)),
          C(p.C.data(), p.C.size()),
          sigma(p.sigma.data(), p.sigma.size()),
          a2(p.a2.data(), p.a2.size()),
          bt(sqrt_of(p.b2).data(), p.b2.size()),
          W(std::size_t(sz.units) * std::size_t(sz.dd)),
          P(std::size_t(sz.units) * std::size_t(sz.dd)),
          sw(diag ? 0 : std::size_t(sz.units)),
          test(std::size_t(sz.units) * std::size_t(sz.nrec)),
          train(std::size_t(sz.units) * std::size_t(sz.nrec)),
          div(std::vector<std::int64_t>(std::size_t(sz.units), -1).data(), std::size_t(sz.units)) {
        W.zero();
    }

    MatRef w_ref() const { return {W.ptr, s.dd, s.d, 1, 1}; }
    MatRef c_ref() const { return {C.ptr, s.dd, s.d, 1, s.nt}; }

    /// Record r (P receives W C; frozen SGD matrices are skipped when `sgd`).
    void record(int r, bool sgd, double c, double threshold) {
        const std::int64_t* skip = sgd ? div.ptr : nullptr;
        const StoreEpi store{P.ptr, s.dd, s.d};
        if (!diag) {  // Tr[W Sigma W^T] first, through P
            gemm(s.d, s.d, s.d, s.units, w_ref(), MatRef{sigma.ptr, s.dd, s.d, 1, s.nt}, skip, store);
            quad_full_kernel<<<unsigned(std::min(s.units, 65535)), kThreads>>>(s.units, s.dd, W.ptr, P.ptr, skip,
                                                                                  sw.ptr);
            check_launch("loss kernel launch");
        }
        gemm(s.d, s.d, s.d, s.units, w_ref(), c_ref(), skip, store);
        LossArgs la{s.units, s.nt, s.d, s.nrec, r, W.ptr, P.ptr, diag ? sigma.ptr : nullptr,
                    diag ? nullptr : sw.ptr, a2.ptr, bt.ptr, c, threshold, test.ptr, train.ptr, div.ptr, sgd};
        loss_kernel<<<unsigned(std::min(s.units, 65535)), kThreads>>>(la);
        check_launch("loss kernel launch");
    }

    void to_host(const TrainOutputs& out) {
        check(cudaDeviceSynchronize(), "training kernels");
        W.to_host(out.W.data());
        test.to_host(out.test.data());
        train.to_host(out.train.data());
        div.to_host(out.diverged_at.data());
    }
};

}  // namespace

void train_gd(const TrainArgs& p, const TrainOutputs& out) {
    require_device();
    const Sizes s = sizes_of(p);
    TrainState st(p, s);
    const double two_eta = 2.0 * p.eta;
    std::vector<double> hs(std::size_t(s.nt)), hg(std::size_t(s.nt)), hh(std::size_t(s.nt));
    for (std::size_t k = 0; k < std::size_t(s.nt); ++k) {  // the coefficients of train_gd
        const double a2 = p.a2[k], b2c = p.b2[k] + p.c, bt = std::sqrt(p.b2[k]);
        hs[k] = 1.0 - two_eta * b2c;
        hg[k] = two_eta * a2;
        hh[k] = two_eta * bt;
    }
    DeviceBuffer<double> ds(hs.data(), hs.size()), dg(hg.data(), hg.size()), dh(hh.data(), hh.size());
    const std::int64_t total = std::int64_t(s.units) * s.dd;
    const StoreEpi store{st.P.ptr, s.dd, s.d};
    int r = 0;
    for (std::int64_t n = 0;; ++n) {
        if (n == p.record_steps[std::size_t(r)]) {
            st.record(r, false, p.c, p.divergence_threshold);  // P = W C of every matrix
            ++r;
        } else {
            gemm(s.d, s.d, s.d, s.units, st.w_ref(), st.c_ref(), st.div.ptr, store);  // frozen: not needed
        }
        if (n == s.steps) break;
        gd_update_kernel<<<grid_for(total), kThreads>>>(total, s.nt, s.d, st.W.ptr, st.P.ptr, ds.ptr, dg.ptr, dh.ptr,
                                                        st.div.ptr);
        check_launch("update kernel launch");
    }
    st.to_host(out);
}

void train_sgd(const TrainArgs& p, const TrainOutputs& out) {
    require_device();
    const Sizes s = sizes_of(p);
    TrainState st(p, s);
    const std::int64_t m = p.batch_size, dm = std::int64_t(p.d) * m;
    DeviceBuffer<double> X(p.X.data(), p.X.size()), a(TrainState::sqrt_of(p.a2).data(), p.a2.size());
    DeviceBuffer<std::uint32_t> keys(p.keys.data(), p.keys.size());
    DeviceBuffer<double> E{std::size_t(s.units) * std::size_t(dm)}, Xt{E.n}, R{E.n};
    const double shrink = 1.0 - 2.0 * p.eta * p.c, gain = 2.0 * p.eta / m;
    const std::int64_t pairs = std::int64_t(s.units) * ((dm + 1) / 2);
    const MatRef xt_ref{Xt.ptr, dm, 1, s.d, 1};    // Xt: d x m column-major
    const MatRef xtT_ref{Xt.ptr, dm, s.d, 1, 1};   // Xt^T: m x d
    const MatRef r_ref{R.ptr, dm, 1, s.d, 1};      // R: d x m column-major
    const SgdResidualEpi residual{E.ptr, R.ptr, dm, s.d};
    const SgdUpdateEpi update{st.W.ptr, s.dd, s.d, shrink, gain};
    int r = 0;
    for (std::int64_t n = 0;; ++n) {
        if (n == p.record_steps[std::size_t(r)]) {
            st.record(r, true, p.c, p.divergence_threshold);
            ++r;
        }
        // the last step is the last record: no record is left to fill (a frozen matrix repeats its
        // last values at each later record, inside loss_kernel)
        if (n == s.steps) break;
        const auto step = std::uint32_t(n + 1);
        sgd_batch_kernel<<<grid_for(pairs), kThreads>>>(s.units, s.nt, s.d, m, p.N, step, keys.ptr, X.ptr, a.ptr,
                                                        st.bt.ptr, st.div.ptr, E.ptr, Xt.ptr);
        check_launch("minibatch kernel launch");
        gemm(s.d, m, s.d, s.units, st.w_ref(), xt_ref, st.div.ptr, residual);  // R = E - W Xt
        gemm(s.d, s.d, m, s.units, r_ref, xtT_ref, st.div.ptr, update);        // W = shrink W + gain R Xt^T
    }
    st.to_host(out);
}

void sample_ddpm(std::span<const double> W, int d, std::span<const double> beta, std::span<const double> b,
                 std::span<const double> sigma, std::uint32_t key0, std::uint32_t key1, std::int64_t n,
                 std::span<double> out, int block) {
    require_device();
    const auto T = std::int64_t(beta.size());
    const std::int64_t dd = std::int64_t(d) * d, total = std::int64_t(d) * n;
    const Philox4x32 key{{key0, key1}};
    DeviceBuffer<double> dW(W.data(), W.size()), U0{std::size_t(total)}, U1{std::size_t(total)};
    double* cur = U0.ptr;
    double* next = U1.ptr;
    sampler_init_kernel<<<grid_for(total), kThreads>>>(d, n, block, key, std::uint32_t(T + 1), cur);
    check_launch("sampler kernel launch");
    for (std::int64_t t = T; t >= 1; --t) {
        const auto k = std::size_t(t - 1);
        const SamplerEpi epi{cur, next, d, block, beta[k] / b[k], 1.0 / std::sqrt(1.0 - beta[k]), sigma[k], key,
                             std::uint32_t(t)};
        gemm(d, n, d, 1, MatRef{dW.ptr + std::int64_t(k) * dd, 0, d, 1, 1}, MatRef{cur, 0, 1, d, 1}, nullptr, epi);
        std::swap(cur, next);
    }
    transpose_kernel<<<grid_for(total), kThreads>>>(d, n, cur, next);
    check_launch("sampler kernel launch");
    check(cudaDeviceSynchronize(), "sampler kernels");
    check(cudaMemcpy(out.data(), next, std::size_t(total) * sizeof(double), cudaMemcpyDeviceToHost),
          "copy to host");
}

}  // namespace lindiff::cuda
