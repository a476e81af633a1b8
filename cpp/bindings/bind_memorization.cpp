// The memorization criterion: log-sum-exp of pairwise Gaussian overlaps.
#include <lindiff/memorization.hpp>

#include "common.hpp"

namespace lindiff::bind {

namespace {

py::array_t<double> logsumexp_gauss_py(darray X, darray Y, double scale, int mode, int row_chunk, int col_chunk) {
    require(X.ndim() == 2 && Y.ndim() == 2, "X and Y must be two-dimensional (points as rows)");
    require(X.shape(1) == Y.shape(1), "X and Y must have the same number of columns (dimension d)");
    require(mode >= 0 && mode <= 2, "mode must be 0 (all), 1 (exclude diagonal) or 2 (upper triangle)");
    const auto n = X.shape(0), m = Y.shape(0), d = X.shape(1);
    require(d >= 1, "dimension d must be >= 1");
    py::array_t<double> out(n);
    auto o = mut_span(out);
    {
        py::gil_scoped_release release;
        logsumexp_gauss(span_of(X), span_of(Y), int(n), int(m), int(d), scale, static_cast<LseMode>(mode), o,
                        LseChunks{row_chunk, col_chunk});
    }
    return out;
}

}  // namespace

void register_memorization(py::module_& m) {
    m.def("logsumexp_gauss", &logsumexp_gauss_py, py::arg("X"), py::arg("Y"), py::arg("scale"), py::arg("mode") = 0,
          py::arg("row_chunk") = 64, py::arg("col_chunk") = 512,
          "out[i] = log sum_j exp(-scale |X_i - Y_j|^2) over all j (mode 0), j != i (mode 1, Y is X) or "
          "j > i (mode 2, Y is X); points as rows; chunked GEMM + streaming log-sum-exp, GIL released.");
}

}  // namespace lindiff::bind
