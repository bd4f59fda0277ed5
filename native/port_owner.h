// Who already listens on a TCP port: /proc/net/tcp{,6} gives the listening sockets' inodes, and
// /proc/<pid>/fd/* links named socket:[inode] give their processes. Used before binding with
// SO_REUSEPORT, where the kernel would otherwise let the engine join another program's port and
// share its connections silently.
#pragma once

#include <sys/socket.h>

#include <string>

namespace forklab {

// A description of every listener whose address overlaps `addr` (same port; same address, or a
// wildcard on either side), e.g. "pid 1234 (nginx)"; empty when there is none. A socket whose
// process is not visible here (another pid namespace, no permission) is named by its inode.
std::string DescribeListeners(const sockaddr_storage& addr);

}  // namespace forklab
