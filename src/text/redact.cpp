#include "text/redact.hpp"

#include <cctype>
#include <strings.h>

#include <cstring>

namespace decant {
namespace {

// "scheme://user:secret@host/...". libpq ends the user info at the first '@' or '/';
// scrubbing up to the last '@' before the first '/' also covers an unencoded '@' or '?'
// in the password. Overwriting too much only changes what `ps` shows.
void scrub_uri(char* arg) {
  char* scheme = std::strstr(arg, "://");
  if (!scheme) return;
  char* authority = scheme + 3;
  char* end = authority + std::strcspn(authority, "/");
  char* at = nullptr;
  for (char* p = authority; p < end; ++p)
    if (*p == '@') at = p;
  if (!at) return;
  char* colon = static_cast<char*>(std::memchr(authority, ':', static_cast<size_t>(at - authority)));
  if (!colon) return;
  for (char* p = colon + 1; p < at; ++p) *p = 'x';
}

// "password = secret", "password='se cret'", "sslpassword=...", MongoDB's
// "tlsCertificateKeyFilePassword=...": libpq allows spaces around '=' and single-quoted
// values with backslash escapes. Matched without regard to case.
void scrub_keywords(char* arg) {
  for (char* p = strcasestr(arg, "password"); p; p = strcasestr(p + 1, "password")) {
    char* v = p + 8;
    while (*v == ' ') ++v;
    if (*v != '=') continue;
    ++v;
    while (*v == ' ') ++v;
    if (*v == '\'') {
      for (++v; *v && *v != '\''; ++v) {
        if (*v == '\\' && v[1]) *v++ = 'x';
        *v = 'x';
      }
    } else {
      for (; *v && !std::isspace(static_cast<unsigned char>(*v)) && *v != '&'; ++v) *v = 'x';
    }
  }
}

}  // namespace

void scrub_passwords(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    scrub_uri(argv[i]);
    scrub_keywords(argv[i]);
  }
}

}  // namespace decant
