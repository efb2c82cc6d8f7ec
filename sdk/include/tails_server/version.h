// API version and ABI tag of the Tails Server plugin SDK.
#pragma once

#include <cstddef>  // defines _GLIBCXX_USE_CXX11_ABI

// Bump MAJOR for any change that breaks plugins built against an older SDK
// (layout of a public class, a removed or reordered virtual function).
// Bump MINOR when the SDK grows in a way older plugins are unaffected by.
#define TAILS_SERVER_API_MAJOR 1
#define TAILS_SERVER_API_MINOR 1

#define TAILS_SERVER_STR_(x) #x
#define TAILS_SERVER_STR(x) TAILS_SERVER_STR_(x)

// The C++ ABI facts a plugin and the host must share, because SDK types pass
// std::string, std::vector and exceptions across the plugin boundary.
#if defined(__GXX_ABI_VERSION) && defined(_GLIBCXX_USE_CXX11_ABI)
#define TAILS_SERVER_ABI_TAG                                                 \
  "tails-server-1;gxx-abi-" TAILS_SERVER_STR(__GXX_ABI_VERSION) ";cxx11-abi-" \
      TAILS_SERVER_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#error "Tails Server plugins need GCC or Clang with libstdc++"
#endif

#define TAILS_SERVER_EXPORT __attribute__((visibility("default")))
