// minidp/kernels/cpu/allocator.h — the caching allocator behind every CPU tensor.
//
// A training step allocates and frees the same sizes again and again. The C
// library hands large blocks back to the kernel on free (and maps fresh,
// zero-filled pages on the next malloc): measured on the CNN step, a tenth of
// the time went to page faults. So, like the GPU's allocator
// (kernels/cuda/allocator.h), large freed blocks are kept and handed out
// again for the same size:
//
//  * blocks under 16 KiB come from the C library directly (its own free
//    lists already serve those without touching the kernel);
//  * larger sizes are rounded up to 4 KiB and cached by exact rounded size;
//    the cache holds at most 1 GiB (beyond that a freed block is released);
//  * no-cache mode (MINIDP_CPU_NO_CACHE=1 in the environment, or
//    set_caching_enabled(false); the default in AddressSanitizer builds):
//    every block goes straight back to the C library, so the sanitizer sees
//    a use after free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace minidp::kernels::cpu {

// 64-byte aligned (one cache line; what AVX-512 loads like). nbytes > 0.
void* allocate(std::size_t nbytes);
void deallocate(void* p, std::size_t nbytes);

struct HostCacheStats {
  std::size_t cached = 0;           // bytes in freed blocks kept for reuse
  std::uint64_t cache_hits = 0;     // allocations served from the cache
  std::uint64_t system_allocs = 0;  // allocations that went to the C library
};
HostCacheStats host_cache_stats();
// Give every cached block back to the C library.
void empty_host_cache();
void set_host_caching_enabled(bool on);
bool host_caching_enabled();

}  // namespace minidp::kernels::cpu
