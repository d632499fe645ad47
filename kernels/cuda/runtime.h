// minidp/kernels/cuda/runtime.h — the few CUDA runtime services core/ needs,
// behind a plain C++ interface so that core/ compiles without CUDA headers.
//
// Built from runtime.cu when the CUDA toolkit is found, from runtime_stub.cpp
// otherwise (where every call but compiled()/device_count() raises minidp::Error).
// Every CUDA call inside is checked and reported with file:line and CUDA's own
// message.
#pragma once

#include <cstddef>

namespace minidp::kernels::cuda {

bool compiled();
int device_count();  // 0 when there is no driver or GPU; never throws
void set_device(int index);

void* device_malloc(std::size_t nbytes, int device);
void device_free(void* ptr, int device) noexcept;

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Asynchronous on `stream` (a cudaStream_t; nullptr = per-thread default).
void memcpy_async(void* dst, const void* src, std::size_t nbytes, CopyKind kind, void* stream);
void memset_async(void* dst, int value, std::size_t nbytes, void* stream);
// Blocks the host until `stream` is drained. Only used at explicit sync points
// (item(), copies to the host) — never inside a training step.
void stream_synchronize(void* stream);

}  // namespace minidp::kernels::cuda
