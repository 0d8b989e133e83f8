// Whether the client of a request that is answered in one piece (no stream) is still there.
//
// cpp-httplib (Debian's 0.11) gives a handler no way to look at its connection, and a
// non-streaming answer writes nothing until it is complete, so a client that gives up (a
// timeout in its HTTP library, Ctrl-C on curl) would hold its slot until max_tokens. The
// connection's socket is found among the process's descriptors by its two addresses; a peer
// that closed its side shows as POLLRDHUP without anything being read or written.
#pragma once

#include <optional>
#include <string>

namespace smoe::server {

class ClientSocket {
 public:
  // The connected TCP socket whose local port is `local_port` and whose peer is
  // `remote_addr`:`remote_port` (httplib::Request's fields); nullopt when none matches (then
  // gone() is always false: the request is answered as before).
  static std::optional<ClientSocket> find(const std::string& remote_addr, int remote_port, int local_port);

  // The peer closed its side of the connection (or it failed). Reads nothing.
  bool gone() const;

  int descriptor() const { return fd_; }

 private:
  explicit ClientSocket(int fd) : fd_(fd) {}
  int fd_;  // owned by httplib, open for as long as the handler runs
};

}  // namespace smoe::server
