#pragma once
// A loopback TCP proxy that a test can cut: a client (decant's kubectl) reaches a server (the
// API server) through it until cut(), after which every open connection is reset and new ones
// are refused, as when the network to a cluster goes away.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace decant::test {

class TcpProxy {
 public:
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void cut();

 private:
  void accept_loop();
  void pipe(int from, int to);

  int upstream_port_;
  int port_ = 0;
  int listener_ = -1;
  std::atomic<bool> cut_{false};
  std::mutex mutex_;
  std::vector<int> sockets_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace decant::test
