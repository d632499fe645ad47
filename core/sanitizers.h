// minidp/core/sanitizers.h — whether this translation unit is built under
// AddressSanitizer or ThreadSanitizer, the same way for g++ and clang.
//
// g++ defines __SANITIZE_ADDRESS__ and __SANITIZE_THREAD__; clang (before 16)
// answers only __has_feature(address_sanitizer) and
// __has_feature(thread_sanitizer). Code that must know (the CPU allocator
// gives every block back at once under ASan, so that a use after free is
// seen; a test that races on purpose stands down under TSan) asks these two
// constants instead of either compiler's spelling.
#pragma once

// clang's __has_feature, or "no" where the compiler has none (g++ before 14).
#if defined(__has_feature)
#define MINIDP_HAS_FEATURE(x) __has_feature(x)
#else
#define MINIDP_HAS_FEATURE(x) 0
#endif

namespace minidp {

#if defined(__SANITIZE_ADDRESS__) || MINIDP_HAS_FEATURE(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif

#if defined(__SANITIZE_THREAD__) || MINIDP_HAS_FEATURE(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

}  // namespace minidp
