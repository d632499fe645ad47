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

namespace minidp {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
#else
inline constexpr bool kThreadSanitizer = false;
#endif

}  // namespace minidp
