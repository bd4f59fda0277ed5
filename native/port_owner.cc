#include "port_owner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace forklab {

namespace {

constexpr const char* kListen = "0A";  // TCP_LISTEN in /proc/net/tcp's st column

struct Wanted {
  bool v6;
  unsigned char addr[16];  // v4 in the first 4 bytes
  int port;
  bool wildcard;
};

// /proc/net/tcp prints each 32-bit word of the address in host byte order as 8 hex digits.
bool ParseHexAddr(const std::string& hex, unsigned char* out, std::size_t bytes) {
  if (hex.size() != bytes * 2) return false;
  for (std::size_t word = 0; word < bytes / 4; ++word) {
    std::uint32_t v = static_cast<std::uint32_t>(std::strtoul(hex.substr(word * 8, 8).c_str(), nullptr, 16));
    std::memcpy(out + word * 4, &v, 4);  // host order, as the kernel printed it
  }
  return true;
}

bool AllZero(const unsigned char* a, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != 0) return false;
  }
  return true;
}

// Inodes of listening sockets in one /proc/net file that overlap `w`.
void Scan(const char* file, bool v6, const Wanted& w, std::set<unsigned long>* inodes) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  const std::size_t bytes = v6 ? 16 : 4;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string sl, local, remote, st, txrx, trtm, retr, uid, timeout;
    unsigned long inode = 0;
    if (!(ls >> sl >> local >> remote >> st >> txrx >> trtm >> retr >> uid >> timeout >> inode)) continue;
    if (st != kListen) continue;
    const std::size_t colon = local.find(':');
    if (colon == std::string::npos) continue;
    const int port = static_cast<int>(std::strtol(local.substr(colon + 1).c_str(), nullptr, 16));
    if (port != w.port) continue;
    unsigned char a[16] = {};
    if (!ParseHexAddr(local.substr(0, colon), a, bytes)) continue;
    const bool wildcard = AllZero(a, bytes);
    bool overlap;
    if (v6 == w.v6) {
      overlap = wildcard || w.wildcard || std::memcmp(a, w.addr, bytes) == 0;
    } else {
      // Across families only wildcards meet (a dual-stack [::] listener takes IPv4 too).
      overlap = wildcard || w.wildcard;
    }
    if (overlap) inodes->insert(inode);
  }
}

std::string Comm(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

std::string DescribeListeners(const sockaddr_storage& addr) {
  Wanted w{};
  if (addr.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&addr);
    w.v6 = true;
    // The kernel prints words in host order: store ours the same way.
    for (int word = 0; word < 4; ++word) {
      std::uint32_t v;
      std::memcpy(&v, s->sin6_addr.s6_addr + word * 4, 4);
      std::memcpy(w.addr + word * 4, &v, 4);
    }
    w.port = ntohs(s->sin6_port);
    w.wildcard = AllZero(w.addr, 16);
  } else {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&addr);
    w.v6 = false;
    std::memcpy(w.addr, &s->sin_addr.s_addr, 4);
    w.port = ntohs(s->sin_port);
    w.wildcard = s->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  std::set<unsigned long> inodes;
  Scan("/proc/net/tcp", false, w, &inodes);
  Scan("/proc/net/tcp6", true, w, &inodes);
  if (inodes.empty()) return "";

  std::map<unsigned long, std::vector<std::string>> owners;  // inode → "pid N (comm)"
  if (DIR* proc = opendir("/proc")) {
    while (dirent* p = readdir(proc)) {
      if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
      const std::string pid = p->d_name;
      const std::string fd_dir = "/proc/" + pid + "/fd";
      DIR* fds = opendir(fd_dir.c_str());
      if (fds == nullptr) continue;
      std::set<unsigned long> seen;
      while (dirent* f = readdir(fds)) {
        if (f->d_name[0] == '.') continue;
        char target[64];
        const std::string link = fd_dir + "/" + f->d_name;
        ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        unsigned long inode = 0;
        if (std::sscanf(target, "socket:[%lu]", &inode) != 1 || inodes.count(inode) == 0) continue;
        if (!seen.insert(inode).second) continue;
        owners[inode].push_back("pid " + pid + " (" + Comm(pid) + ")");
      }
      closedir(fds);
    }
    closedir(proc);
  }
  std::string out;
  std::set<std::string> said;
  for (unsigned long inode : inodes) {
    auto it = owners.find(inode);
    std::vector<std::string> who;
    if (it == owners.end()) {
      who.push_back("a process not visible here (socket inode " + std::to_string(inode) + ")");
    } else {
      who = it->second;
    }
    for (const std::string& s : who) {
      if (!said.insert(s).second) continue;
      if (!out.empty()) out += ", ";
      out += s;
    }
  }
  return out;
}

}  // namespace forklab
