#pragma once
// Keeps passwords out of what others can see.
namespace decant {
// Overwrites, in place, the password of every "scheme://user:secret@host" URI and
// every "password=secret" keyword in argv[1..argc-1] with x's, so `ps` shows none.
void scrub_passwords(int argc, char** argv);
}  // namespace decant
