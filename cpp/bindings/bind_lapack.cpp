// Batched symmetric eigendecomposition through SciPy's LAPACK (dsyevd from cython_lapack).
#include <lindiff/lapack.hpp>

#include <cmath>
#include <string>

#include "common.hpp"

namespace lindiff::bind {

namespace {

/// dsyevd from scipy.linalg.cython_lapack, fetched on first use (GIL held) and cached.
dsyevd_ptr scipy_dsyevd() {
    static dsyevd_ptr cached = nullptr;
    if (cached != nullptr) return cached;
    py::object mod;
    try {
        mod = py::module_::import("scipy.linalg.cython_lapack");
    } catch (py::error_already_set& e) {
        throw py::import_error(std::string("lindiff needs SciPy for eigh_batched (LAPACK dsyevd from "
                                           "scipy.linalg.cython_lapack): ") + e.what());
    }
    py::dict capi = mod.attr("__pyx_capi__");
    if (!capi.contains("dsyevd")) throw py::import_error("scipy.linalg.cython_lapack does not export dsyevd");
    py::object capsule = capi["dsyevd"];
    const char* name = PyCapsule_GetName(capsule.ptr());
    if (name == nullptr && PyErr_Occurred()) throw py::error_already_set();
    void* p = PyCapsule_GetPointer(capsule.ptr(), name);
    if (p == nullptr) throw py::error_already_set();
    cached = reinterpret_cast<dsyevd_ptr>(p);
    return cached;
}

py::tuple eigh_batched_py(const py::array& C_in) {
    if (C_in.ndim() != 3 || C_in.shape(1) != C_in.shape(2))
        throw py::value_error("C must have shape (B, d, d): a batch of square matrices (got ndim " +
                              std::to_string(C_in.ndim()) + ")");
    if (!py::isinstance<py::array_t<double>>(C_in))
        throw py::value_error("C must be a float64 array");
    const py::ssize_t B = C_in.shape(0), d = C_in.shape(1);
    if (d < 1) throw py::value_error("C must have d >= 1");
    if (d > 46340) throw py::value_error("C: d too large for 32-bit LAPACK indexing");
    // the output V starts as a C-contiguous copy of C; dsyevd works in place on it
    py::array_t<double, py::array::c_style> V({B, d, d});
    {
        auto src = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(C_in);
        if (!src) throw py::error_already_set();
        const double* s = src.data();
        double* v = V.mutable_data();
        const auto n = static_cast<std::size_t>(B) * static_cast<std::size_t>(d) * static_cast<std::size_t>(d);
        for (std::size_t i = 0; i < n; ++i) {
            if (!std::isfinite(s[i]))
                throw py::value_error("C must be finite (contains NaN or inf; matrix " +
                                      std::to_string(i / (static_cast<std::size_t>(d) * d)) + ")");
            v[i] = s[i];
        }
    }
    py::array_t<double> w({B, d});
    py::array_t<int> info(B);
    dsyevd_ptr f = scipy_dsyevd();
    {
        py::gil_scoped_release release;
        eigh_batched(f, static_cast<std::int64_t>(B), static_cast<int>(d), V.mutable_data(), w.mutable_data(),
                     info.mutable_data());
    }
    return py::make_tuple(w, V, info);
}

}  // namespace

void register_lapack(py::module_& m) {
    m.def("eigh_batched", &eigh_batched_py, py::arg("C"),
          "Eigendecompose a batch of symmetric matrices C (B, d, d), float64, with LAPACK dsyevd\n"
          "(SciPy's), OpenMP over the batch, GIL released.  Only the lower triangle is read (as\n"
          "numpy.linalg.eigh); every entry must be finite.  Returns (s (B, d) decreasing, V (B, d, d) with V[b][:, j] the eigenvector of\n"
          "s[b, j], info (B,) int: LAPACK's info per matrix, 0 = success).");
}

}  // namespace lindiff::bind
