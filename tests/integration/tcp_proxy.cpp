#include "tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "ports.hpp"

namespace decant::test {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
  port_ = free_port();
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(port_);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0)
    throw std::runtime_error("the proxy cannot listen on 127.0.0.1:" + std::to_string(port_));
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  cut();
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  for (int s : sockets_) ::close(s);
}

void TcpProxy::cut() {
  if (cut_.exchange(true)) return;
  std::lock_guard lock(mutex_);
  ::shutdown(listener_, SHUT_RDWR);
  for (int s : sockets_) {
    linger reset{1, 0};  // a reset, not a clean end: the connection is lost
    ::setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::shutdown(s, SHUT_RDWR);
  }
}

void TcpProxy::accept_loop() {
  while (!cut_) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto a = loopback(upstream_port_);
    if (cut_ || ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(client);
      ::close(server);
      continue;
    }
    std::lock_guard lock(mutex_);
    sockets_.insert(sockets_.end(), {client, server});
    threads_.emplace_back([this, client, server] { pipe(client, server); });
  }
  ::close(listener_);
}

// Both directions of one connection, until either end or cut().
void TcpProxy::pipe(int a, int b) {
  char buffer[65536];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (!cut_) {
    if (::poll(fds, 2, 200) <= 0) continue;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        done = true;
        break;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(fds[1 - i].fd, buffer + off, static_cast<size_t>(n - off));
        if (w <= 0) {
          done = true;
          break;
        }
        off += w;
      }
    }
    if (done) break;
  }
  std::lock_guard lock(mutex_);
  if (!cut_) {
    ::close(a);
    ::close(b);
    std::erase(sockets_, a);
    std::erase(sockets_, b);
  }
}

}  // namespace decant::test
