// lindiff kernel: spectral sums sum_i w_i F(lambda_i) in O(p log d) instead of O(d), for the
// rational F of the real-axis DE measure, whose only singularities are the poles lambda = -x +- i y.
//
// In u = ln lambda, F is analytic except at u* = ln(-x + i y) and its conjugate (and their 2 pi i
// images, further away).  The sorted spectrum is split into a binary tree of contiguous blocks in
// u.  A block with centre c and half-width h carries P Chebyshev proxy points u_j = c + h t_j and
// proxy weights W_j = sum_{i in block} w_i l_j((u_i - c)/h) (l_j the Lagrange basis), so that
// sum_{i in block} w_i F(lambda_i) = sum_j W_j F(e^{u_j}) + E, with E the weighted Chebyshev
// interpolation error of F on the block.  For a pole at t0 = (u* - c)/h that error is of order
// rho(t0)^-P, rho(t0) = |t0 + sqrt(t0^2 - 1)| the Bernstein ellipse through the pole, so a block
// is used through its proxies only when rho(t0) >= RHO_MIN (RHO_MIN^-P = 2e-19); otherwise its
// children are visited, down to leaves summed directly.  A query visits O(log d) blocks.
//
// Proxy weights are built bottom-up: a parent's W from its children's proxies (or a leaf's points)
// is exact in exact arithmetic, because a child's proxy rule integrates every polynomial of degree
// < P on the child exactly, and l_j of the parent restricted to a child is such a polynomial.
#pragma once

#include <array>
#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <vector>

#include "common.hpp"

namespace lindiff {

class SpectralTree {
public:
    static constexpr int P = 24;               // proxy points per block
    static constexpr std::size_t LEAF = 32;     // blocks up to this size are summed directly
    static constexpr double RHO_MIN = 6.0;      // admissibility: Bernstein parameter of the pole
    static constexpr std::size_t TREE_FROM = 4096;  // spectra this large are worth a tree

    SpectralTree() = default;

    /// `lam` sorted (either direction), positive; `w` the weights.  The vectors must outlive the tree.
    SpectralTree(const std::vector<double>& lam, const std::vector<double>& w) : lam_(&lam), w_(&w) {
        for (int j = 0; j < P; ++j) {
            const double th = (2 * j + 1) * std::numbers::pi / (2 * P);
            t_[j] = std::cos(th);
            bary_[j] = (j % 2 ? -1.0 : 1.0) * std::sin(th);
        }
        u_.resize(lam.size());
        for (std::size_t i = 0; i < lam.size(); ++i) u_[i] = std::log(lam[i]);
        if (!lam.empty()) build(0, lam.size());
    }

    [[nodiscard]] bool empty() const noexcept { return blocks_.empty(); }

    /// sum_i w_i F(lambda_i) for a term F whose poles in u are at `pole_u` and its conjugate;
    /// term(lambda, weight, acc) adds one point's contributions to the K sums in acc.
    template <std::size_t K, class Term>
    [[nodiscard]] std::array<double, K> sum(std::complex<double> pole_u, Term&& term) const {
        std::array<double, K> acc{};
        std::size_t stack[128];
        int top = 0;
        stack[top++] = 0;
        while (top > 0) {
            const Block& b = blocks_[stack[--top]];
            if (b.child[0] == 0) {
                for (std::size_t i = b.begin; i < b.end; ++i) term((*lam_)[i], (*w_)[i], acc);
            } else if (bernstein_rho((pole_u - b.center) / b.half) >= RHO_MIN) {
                for (int j = 0; j < P; ++j) term(proxy_lam_[b.proxy + j], proxy_w_[b.proxy + j], acc);
            } else {
                stack[top++] = b.child[1];
                stack[top++] = b.child[0];
            }
        }
        return acc;
    }

private:
    struct Block {
        std::size_t begin = 0, end = 0;   // index range in the sorted spectrum
        double center = 0, half = 0;      // in u = ln lambda
        std::size_t child[2] = {0, 0};    // 0: a leaf (the root is never a child)
        std::size_t proxy = 0;            // offset of the P proxy points
    };

    const std::vector<double>* lam_ = nullptr;
    const std::vector<double>* w_ = nullptr;
    std::vector<double> u_, proxy_lam_, proxy_w_;
    std::vector<Block> blocks_;
    std::array<double, P> t_{}, bary_{};

    /// Adds sum_k wk l_j(t(uk)) to the proxy weights of block b (barycentric Lagrange basis).
    void anterpolate(const Block& b, const double* u, const double* wk, std::size_t n) {
        double* W = proxy_w_.data() + b.proxy;
        for (std::size_t k = 0; k < n; ++k) {
            const double t = (u[k] - b.center) / b.half;
            std::array<double, P> q{};
            double den = 0;
            int exact = -1;
            for (int j = 0; j < P; ++j) {
                if (t == t_[j]) {
                    exact = j;
                    break;
                }
                q[j] = bary_[j] / (t - t_[j]);
                den += q[j];
            }
            if (exact >= 0) {
                W[exact] += wk[k];
                continue;
            }
            for (int j = 0; j < P; ++j) W[j] += wk[k] * (q[j] / den);
        }
    }

    /// Builds the block for [begin, end) and its subtree; returns its index.
    std::size_t build(std::size_t begin, std::size_t end) {
        const std::size_t id = blocks_.size();
        blocks_.push_back({});
        Block b;
        b.begin = begin;
        b.end = end;
        const double ua = u_[begin], ub = u_[end - 1];
        b.center = 0.5 * (ua + ub);
        b.half = 0.5 * std::abs(ua - ub);
        if (end - begin > LEAF && b.half > 0) {
            const std::size_t mid = begin + (end - begin) / 2;
            b.child[0] = build(begin, mid);
            b.child[1] = build(mid, end);
            b.proxy = proxy_w_.size();
            proxy_w_.resize(b.proxy + P, 0.0);
            for (int j = 0; j < P; ++j) proxy_lam_.push_back(std::exp(b.center + b.half * t_[j]));
            for (const std::size_t c : b.child) {
                const Block& cb = blocks_[c];
                if (cb.child[0] == 0) {
                    anterpolate(b, u_.data() + cb.begin, w_->data() + cb.begin, cb.end - cb.begin);
                } else {
                    std::array<double, P> uc;
                    for (int j = 0; j < P; ++j) uc[j] = cb.center + cb.half * t_[j];
                    anterpolate(b, uc.data(), proxy_w_.data() + cb.proxy, P);
                }
            }
        }
        blocks_[id] = b;
        return id;
    }
};

}  // namespace lindiff
