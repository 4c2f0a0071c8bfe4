#include "common/redact.hpp"

#include <cstring>

namespace decant {

void scrub_passwords(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (char* scheme = std::strstr(a, "://")) {
      char* authority = scheme + 3;
      char* end = authority + std::strcspn(authority, "/?");
      char* at = nullptr;
      for (char* p = authority; p < end; ++p)
        if (*p == '@') at = p;  // the last '@' before the path ends the user info
      if (at) {
        char* colon = static_cast<char*>(std::memchr(authority, ':', static_cast<size_t>(at - authority)));
        if (colon)
          for (char* p = colon + 1; p < at; ++p) *p = 'x';
      }
    }
    for (char* p = std::strstr(a, "password="); p; p = std::strstr(p + 1, "password=")) {
      char* v = p + 9;
      char quote = *v == '\'' ? *v++ : 0;
      for (; *v && (quote ? *v != quote : *v != ' ' && *v != '&'); ++v) {
        if (quote && *v == '\\' && v[1]) *v++ = 'x';
        *v = 'x';
      }
    }
  }
}

}  // namespace decant
