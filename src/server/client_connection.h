// Whether the HTTP client of a request is still there. cpp-httplib 0.11 hides the socket
// and has no Request::is_connection_closed, so the socket is found by its address pair
// among the process's descriptors; it stays open while the request's handler runs.
#pragma once

#include <string>

namespace loom::server {

class ClientConnection {
 public:
  // The connection from remote_addr:remote_port (as httplib formats them) to local_port.
  ClientConnection(std::string remote_addr, int remote_port, int local_port);
  // True once the client closed its end or the connection failed; false while it is open
  // or when its socket cannot be found (then nothing is cancelled by mistake).
  bool closed();

 private:
  std::string remote_addr_;
  int remote_port_;
  int local_port_;
  int fd_ = -1;            // the socket, once found
  bool searched_ = false;  // looked for it (only on the first closed(): short requests never pay)
};

}  // namespace loom::server
