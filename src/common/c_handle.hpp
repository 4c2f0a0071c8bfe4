#pragma once
// A C library's handle that frees itself with the function the library gives for it:
// CHandle<PGresult, PQclear>, CHandle<EVP_MD_CTX, EVP_MD_CTX_free>.
#include <memory>

namespace decant {

template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* handle) const {
    Free(handle);
  }
};

template <typename T, auto Free>
using CHandle = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace decant
