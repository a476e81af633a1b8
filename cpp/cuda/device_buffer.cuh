// lindiff CUDA backend: error checks and an RAII device buffer, shared by every .cu file.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace lindiff::cuda::detail {

inline void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        throw std::runtime_error(std::string("lindiff CUDA: ") + what + ": " + cudaGetErrorString(e));
}

inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

/// RAII device buffer (freed on every path, exceptions included).
template <class T>
struct DeviceBuffer {
    T* ptr = nullptr;
    std::size_t n = 0;
    explicit DeviceBuffer(std::size_t count) : n(count) {
        if (n) check(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(T)), "cudaMalloc");
    }
    DeviceBuffer(const T* host, std::size_t count) : DeviceBuffer(count) {
        if (n) check(cudaMemcpy(ptr, host, n * sizeof(T), cudaMemcpyHostToDevice), "copy to device");
    }
    void zero() {
        if (n) check(cudaMemset(ptr, 0, n * sizeof(T)), "cudaMemset");
    }
    void to_host(T* host) const {
        if (n) check(cudaMemcpy(host, ptr, n * sizeof(T), cudaMemcpyDeviceToHost), "copy to host");
    }
    ~DeviceBuffer() {
        if (ptr) cudaFree(ptr);
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

}  // namespace lindiff::cuda::detail
