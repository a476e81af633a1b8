// lindiff kernel: the simulator.  Really trains the per-time linear denoisers W_t with dense
// matrix products in the original basis (no eigenbasis shortcut: this is what validates the
// closed forms), and runs the linear DDPM sampler.
//
// Objective per diffusion time (spec §1), noise averaged exactly:
//   L_t(W) = Tr[(I - b W)(I - b W)^T] + a^2 Tr[W C W^T] + c ||W||_F^2,
//   grad L_t = 2 (W M - b I),  M = a^2 C + (b^2 + c) I.
// Full-batch gradient descent:  W <- W - 2 eta (a^2 W C + (b^2 + c) W - b I).  For one draw the
// products W_t C of all diffusion times are one GEMM of the stacked (nt d x d) matrix with C.
// SGD on sampled (x_0, eps) minibatches of size m:  x_t = a x_0 + b eps, R = eps - W x_t,
//   W <- (1 - 2 eta c) W + (2 eta / m) R x_t^T.
// Reported losses are per dimension, without the penalty:
//   train = (||I - b W||^2 + a^2 Tr[W C W^T]) / d,  test = (||I - b W||^2 + a^2 Tr[W Sigma W^T]) / d.
//
// Parallel over fixed work units (one draw for GD; one (draw, t) pair for SGD; a block of sample
// columns for the sampler), each computed by one thread with deterministic Eigen products and a
// counter-based RNG: results are bitwise independent of the thread count.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "common.hpp"
#include "rng.hpp"

namespace lindiff {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMap = Eigen::Map<RowMat>;
using ConstRowMap = Eigen::Map<const RowMat>;

/// RNG stream purposes (counter word c3).
enum class Stream : std::uint32_t { sgd_noise = 0, sgd_index = 1, sampler = 2 };

/// The data a training run needs for one batch of draws.
struct TrainProblem {
    int draws = 0, d = 0, N = 0;
    std::span<const double> C;       // draws x d x d: training covariances X X^T / N
    std::span<const double> X;       // draws x d x N: training sets (SGD only; may be empty for GD)
    std::span<const double> sigma;   // d (diagonal Sigma, shared) or draws x d x d (full Sigma per draw)
    std::span<const double> a2, b2;  // per diffusion time (nt)
    double c = 0, eta = 0;
    std::span<const std::int64_t> record_steps;  // increasing, first 0, last = number of steps
    // SGD only
    int batch_size = 0;
    std::span<const std::uint32_t> keys;  // draws x 2: Philox key per draw
    double divergence_threshold = 1e10;   // per-dimension objective beyond which a W_t is "diverged"

    [[nodiscard]] int nt() const noexcept { return int(a2.size()); }
    [[nodiscard]] bool sigma_diagonal() const noexcept { return sigma.size() == std::size_t(d); }
    [[nodiscard]] std::int64_t steps() const noexcept { return record_steps.back(); }
};

/// Outputs: final W (draws x nt x d x d), losses (draws x nrec x nt), first record index at which
/// a W_t diverged (draws x nt; -1: never), after which it is frozen.
struct TrainOut {
    std::span<double> W, test, train;
    std::span<std::int64_t> diverged_at;
};

/// All argument checks of a training run (sgd: also X, the minibatch size and the keys).
inline void check_train_problem(const TrainProblem& p, bool sgd) {
    require(p.draws >= 1 && p.d >= 1 && p.N >= 1, "draws, d and N must be >= 1");
    const auto dd = std::size_t(p.d) * std::size_t(p.d);
    require(p.C.size() == std::size_t(p.draws) * dd, "C must have shape (draws, d, d)");
    require(!sgd || p.X.size() == std::size_t(p.draws) * std::size_t(p.d) * std::size_t(p.N),
            "X must have shape (draws, d, N)");
    require(p.sigma_diagonal() || p.sigma.size() == std::size_t(p.draws) * dd,
            "sigma must have shape (d,) or (draws, d, d)");
    require(p.nt() >= 1 && p.b2.size() == p.a2.size(), "a2 and b2 must be non-empty and of equal length");
    require(std::isfinite(p.c) && p.c >= 0, "c must be finite and >= 0");
    require(std::isfinite(p.eta) && p.eta > 0, "eta must be finite and > 0");
    require(!p.record_steps.empty() && p.record_steps[0] == 0, "record_steps must start at 0");
    for (std::size_t i = 1; i < p.record_steps.size(); ++i)
        require(p.record_steps[i] > p.record_steps[i - 1], "record_steps must be increasing");
    require(p.steps() >= 1, "steps must be >= 1");
    if (sgd) {
        require(p.batch_size >= 1, "batch_size must be >= 1");
        require(p.keys.size() == 2 * std::size_t(p.draws), "keys must have shape (draws, 2)");
    }
}

/// The output sizes a training run writes.
inline void check_train_out(const TrainProblem& p, const TrainOut& out) {
    const auto draws = std::size_t(p.draws), nt = std::size_t(p.nt()), nrec = p.record_steps.size();
    require(out.W.size() == draws * nt * std::size_t(p.d) * std::size_t(p.d), "W output has the wrong size");
    require(out.test.size() == draws * nrec * nt && out.train.size() == out.test.size(),
            "loss outputs have the wrong size");
    require(out.diverged_at.size() == draws * nt, "diverged_at has the wrong size");
}

namespace detail {

/// ||I - b W||_F^2 without forming I - b W.
inline double residual_norm2(const Eigen::Ref<const RowMat>& W, double b) {
    double s = 0;
    const Eigen::Index d = W.rows();
    for (Eigen::Index i = 0; i < d; ++i)
        for (Eigen::Index j = 0; j < d; ++j) {
            const double r = (i == j ? 1.0 : 0.0) - b * W(i, j);
            s += r * r;
        }
    return s;
}

/// Tr[W S W^T] for S diagonal (diag) or full (dense, with a scratch matrix).
inline double quad_trace(const Eigen::Ref<const RowMat>& W, std::span<const double> diag, const double* full,
                         RowMat& scratch) {
    const Eigen::Index d = W.rows();
    if (!diag.empty()) {
        double s = 0;
        for (Eigen::Index i = 0; i < d; ++i)
            for (Eigen::Index j = 0; j < d; ++j) s += W(i, j) * W(i, j) * diag[std::size_t(j)];
        return s;
    }
    ConstRowMap S(full, d, d);
    scratch.noalias() = W * S;
    return scratch.cwiseProduct(W).sum();
}

/// Record train/test losses of W (given WC = W C) and return the per-dimension objective.
struct LossRecorder {
    const TrainProblem& p;
    RowMat scratch;
    double record(const Eigen::Ref<const RowMat>& W, const Eigen::Ref<const RowMat>& WC, int draw, int k,
                  double& test, double& train) {
        const double d = p.d, a2 = p.a2[std::size_t(k)], b = std::sqrt(p.b2[std::size_t(k)]);
        const double res = residual_norm2(W, b);
        const double cw = WC.cwiseProduct(W).sum();
        const double* full = p.sigma_diagonal() ? nullptr : p.sigma.data() + std::size_t(draw) * p.d * p.d;
        const double sw = quad_trace(W, p.sigma_diagonal() ? p.sigma : std::span<const double>{}, full, scratch);
        train = (res + a2 * cw) / d;
        test = (res + a2 * sw) / d;
        return train + p.c * W.squaredNorm() / d;
    }
};

inline bool diverged(double objective, double threshold) noexcept {
    return !(std::isfinite(objective) && objective <= threshold);
}

}  // namespace detail

/// Full-batch gradient descent from W = 0 for every (draw, t); see the file comment.
inline void train_gd(const TrainProblem& p, TrainOut out) {
    check_train_problem(p, false);
    check_train_out(p, out);
    const int d = p.d, nt = p.nt(), nrec = int(p.record_steps.size());
    const auto dd = std::size_t(d) * std::size_t(d);
    const std::int64_t steps = p.steps();
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < p.draws; ++b) {
        ConstRowMap C(p.C.data() + std::size_t(b) * dd, d, d);
        RowMap Wst(out.W.data() + std::size_t(b) * std::size_t(nt) * dd, Eigen::Index(nt) * d, d);
        Wst.setZero();
        RowMat P(Eigen::Index(nt) * d, d);
        std::vector<char> frozen(std::size_t(nt), 0);
        auto* div = out.diverged_at.data() + std::size_t(b) * std::size_t(nt);
        for (int k = 0; k < nt; ++k) div[k] = -1;
        detail::LossRecorder rec{p, RowMat()};
        int r = 0;
        for (std::int64_t n = 0;; ++n) {
            P.noalias() = Wst * C;
            if (n == p.record_steps[std::size_t(r)]) {
                for (int k = 0; k < nt; ++k) {
                    const auto blk = Eigen::Index(k) * d;
                    const std::size_t o = (std::size_t(b) * std::size_t(nrec) + std::size_t(r)) * std::size_t(nt) + std::size_t(k);
                    const double obj = rec.record(Wst.middleRows(blk, d), P.middleRows(blk, d), b, k, out.test[o],
                                                  out.train[o]);
                    if (!frozen[std::size_t(k)] && detail::diverged(obj, p.divergence_threshold)) {
                        frozen[std::size_t(k)] = 1;
                        div[k] = r;
                    }
                }
                ++r;
            }
            if (n == steps) break;
            for (int k = 0; k < nt; ++k) {
                if (frozen[std::size_t(k)]) continue;
                const auto blk = Eigen::Index(k) * d;
                const double a2 = p.a2[std::size_t(k)], b2c = p.b2[std::size_t(k)] + p.c;
                const double bt = std::sqrt(p.b2[std::size_t(k)]), two_eta = 2.0 * p.eta;
                auto Wk = Wst.middleRows(blk, d);
                Wk = (1.0 - two_eta * b2c) * Wk - (two_eta * a2) * P.middleRows(blk, d);
                Wk.diagonal().array() += two_eta * bt;
            }
        }
    }
}

/// SGD on (x_0, eps) minibatches from W = 0 for every (draw, t); see the file comment.  The
/// minibatch of step n (1-based) for (draw, t index k) comes from the draw's Philox key with
/// counter words (i, n, k, purpose).
inline void train_sgd(const TrainProblem& p, TrainOut out) {
    check_train_problem(p, true);
    check_train_out(p, out);
    const int d = p.d, nt = p.nt(), nrec = int(p.record_steps.size()), m = p.batch_size;
    const auto dd = std::size_t(d) * std::size_t(d);
    const std::int64_t steps = p.steps();
    const std::int64_t units = std::int64_t(p.draws) * nt;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t u = 0; u < units; ++u) {
        const int b = int(u / nt), k = int(u % nt);
        ConstRowMap C(p.C.data() + std::size_t(b) * dd, d, d);
        ConstRowMap X(p.X.data() + std::size_t(b) * std::size_t(d) * std::size_t(p.N), d, p.N);
        RowMap W(out.W.data() + std::size_t(u) * dd, d, d);
        W.setZero();
        const Philox4x32 gen{{p.keys[2 * std::size_t(b)], p.keys[2 * std::size_t(b) + 1]}};
        const double a = std::sqrt(p.a2[std::size_t(k)]), bt = std::sqrt(p.b2[std::size_t(k)]);
        const double shrink = 1.0 - 2.0 * p.eta * p.c, gain = 2.0 * p.eta / m;
        Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor> E(d, m), Xt(d, m), R(d, m);
        std::vector<std::int64_t> idx(static_cast<std::size_t>(m));
        RowMat WC(d, d);
        detail::LossRecorder rec{p, RowMat()};
        std::int64_t& div = out.diverged_at[std::size_t(u)];
        div = -1;
        int r = 0;
        for (std::int64_t n = 0;; ++n) {
            if (n == p.record_steps[std::size_t(r)]) {
                WC.noalias() = W * C;
                const std::size_t o = (std::size_t(b) * std::size_t(nrec) + std::size_t(r)) * std::size_t(nt) + std::size_t(k);
                const double obj = rec.record(W, WC, b, k, out.test[o], out.train[o]);
                if (div < 0 && detail::diverged(obj, p.divergence_threshold)) div = r;
                ++r;
            }
            if (n == steps || div >= 0) {
                // a diverged W_t stays frozen: fill its remaining records with the last values
                for (; r < nrec; ++r) {
                    const std::size_t o = (std::size_t(b) * std::size_t(nrec) + std::size_t(r)) * std::size_t(nt) + std::size_t(k);
                    out.test[o] = out.test[o - std::size_t(nt)];
                    out.train[o] = out.train[o - std::size_t(nt)];
                }
                break;
            }
            const auto step = std::uint32_t(n + 1), kk = std::uint32_t(k);
            fill_normal(gen, step, kk, std::uint32_t(Stream::sgd_noise), E.data(), std::size_t(d) * std::size_t(m));
            fill_index(gen, step, kk, std::uint32_t(Stream::sgd_index), std::uint32_t(p.N), idx.data(), idx.size());
            for (int j = 0; j < m; ++j) Xt.col(j) = a * X.col(Eigen::Index(idx[std::size_t(j)])) + bt * E.col(j);
            R = E;
            R.noalias() -= W * Xt;
            W *= shrink;
            W.noalias() += gain * (R * Xt.transpose());
        }
    }
}

/// The argument checks of sample_ddpm (shared with the GPU backend).
inline void check_sample_args(std::span<const double> W, int d, std::span<const double> beta,
                              std::span<const double> b, std::span<const double> sigma, std::int64_t n,
                              std::span<const double> out, int block) {
    const auto T = std::size_t(beta.size());
    require(d >= 1 && T >= 1, "d and T must be >= 1");
    require(W.size() == T * std::size_t(d) * std::size_t(d), "W must have shape (T, d, d)");
    require(b.size() == T && sigma.size() == T, "beta, b, sigma must have length T");
    require(n >= 1 && out.size() == std::size_t(n) * std::size_t(d), "out must have shape (d, n)");
    require(block >= 1, "block must be >= 1");
}

/// The linear DDPM sampler with given W_t (T x d x d, index t - 1):
///   u_T ~ N(0, I),  u_{t-1} = (u_t - (beta_t / b_t) W_t u_t) / sqrt(alpha_t) + sigma_t xi_t.
/// Samples are processed in blocks of `block` columns; block j draws its noise from counters
/// (i, t, j, sampler) of `key` (t = T + 1 for u_T), so the result is independent of threads.
/// Output: d x n row-major (one sample per column).
inline void sample_ddpm(std::span<const double> W, int d, std::span<const double> beta, std::span<const double> b,
                        std::span<const double> sigma, const Philox4x32& key, std::int64_t n, std::span<double> out,
                        int block = 128) {
    check_sample_args(W, d, beta, b, sigma, n, out, block);
    const auto T = std::int64_t(beta.size());
    const auto dd = std::size_t(d) * std::size_t(d);
    const std::int64_t nblocks = (n + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t j = 0; j < nblocks; ++j) {
        const std::int64_t col0 = j * block, cols = std::min<std::int64_t>(block, n - col0);
        Eigen::MatrixXd U(d, cols), V(d, cols), Xi(d, cols);
        const auto jj = std::uint32_t(j), tag = std::uint32_t(Stream::sampler);
        fill_normal(key, std::uint32_t(T + 1), jj, tag, U.data(), std::size_t(U.size()));
        for (std::int64_t t = T; t >= 1; --t) {
            const auto k = std::size_t(t - 1);
            ConstRowMap Wt(W.data() + k * dd, d, d);
            V.noalias() = Wt * U;
            const double inv_sqrt_alpha = 1.0 / std::sqrt(1.0 - beta[k]);
            U = inv_sqrt_alpha * (U - (beta[k] / b[k]) * V);
            if (sigma[k] != 0.0) {
                fill_normal(key, std::uint32_t(t), jj, tag, Xi.data(), std::size_t(Xi.size()));
                U += sigma[k] * Xi;
            }
        }
        RowMap O(out.data(), d, Eigen::Index(n));
        O.middleCols(Eigen::Index(col0), Eigen::Index(cols)) = U;
    }
}

/// The exact covariance of the sampler's output for any W_t (T x d x d):
///   G_T = I,  G_{t-1} = A_t G_t A_t^T + sigma_t^2 I,  A_t = (I - (beta_t / b_t) W_t) / sqrt(alpha_t).
inline void sampler_covariance(std::span<const double> W, int d, std::span<const double> beta,
                               std::span<const double> b, std::span<const double> sigma, std::span<double> out) {
    const auto T = std::size_t(beta.size());
    const auto dd = std::size_t(d) * std::size_t(d);
    require(d >= 1 && T >= 1, "d and T must be >= 1");
    require(W.size() == T * dd, "W must have shape (T, d, d)");
    require(b.size() == T && sigma.size() == T, "beta, b, sigma must have length T");
    require(out.size() == dd, "out must have shape (d, d)");
    RowMat G = RowMat::Identity(d, d), A(d, d), AG(d, d);
    for (std::size_t k = T; k-- > 0;) {
        ConstRowMap Wt(W.data() + k * dd, d, d);
        A = (-(beta[k] / b[k])) * Wt;
        A.diagonal().array() += 1.0;
        A *= 1.0 / std::sqrt(1.0 - beta[k]);
        AG.noalias() = A * G;
        G.noalias() = AG * A.transpose();
        G = 0.5 * (G + G.transpose()).eval();
        G.diagonal().array() += sigma[k] * sigma[k];
    }
    RowMap(out.data(), d, d) = G;
}

}  // namespace lindiff
