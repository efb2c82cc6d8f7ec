// API version and ABI tag of the Tails Server plugin SDK.
#pragma once

#include <cstddef>  // defines _GLIBCXX_USE_CXX11_ABI

// The policy (sdk/README.md): MAJOR changes when a plugin built against an
// older SDK would break (a public class's layout, a removed or reordered
// virtual function, a renamed field); the host loads only its own MAJOR.
// MINOR grows when the SDK grows in a way older plugins are unaffected by;
// the host loads plugins of its MINOR or lower.
#define TAILS_SERVER_API_MAJOR 2
#define TAILS_SERVER_API_MINOR 3

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
