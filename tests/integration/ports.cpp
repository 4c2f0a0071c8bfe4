#include "ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

namespace decant::test {
namespace {

constexpr int kLowest = 10000;

// The first port of the kernel's ephemeral range (32768 unless configured otherwise).
int ephemeral_low() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (in >> low && low > kLowest + 1000) return low;
  return 32768;
}

bool port_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int free_port_block(int count) {
  static std::mutex mutex;
  static std::set<int> given;
  static std::mt19937 random(static_cast<unsigned>(::getpid()) ^
                             static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> pick(kLowest, ephemeral_low() - count);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    int base = pick(random);
    bool all = true;
    for (int i = 0; i < count && all; ++i) all = !given.count(base + i) && port_free(base + i);
    if (!all) continue;
    for (int i = 0; i < count; ++i) given.insert(base + i);
    return base;
  }
  throw std::runtime_error("no " + std::to_string(count) + " consecutive free loopback ports below the ephemeral range");
}

int free_port() { return free_port_block(1); }

}  // namespace decant::test
