#include "kcmp.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace forklab {

namespace {
// From <linux/kcmp.h>, which not every libc ships.
constexpr int kKcmpFile = 0;
}  // namespace

int KcmpFile(pid_t pid1, pid_t pid2, int fd1, int fd2) {
#ifdef SYS_kcmp
  long r = syscall(SYS_kcmp, pid1, pid2, kKcmpFile, static_cast<unsigned long>(fd1),
                   static_cast<unsigned long>(fd2));
  return r < 0 ? -errno : static_cast<int>(r);
#else
  (void)pid1;
  (void)pid2;
  (void)fd1;
  (void)fd2;
  return -ENOSYS;
#endif
}

}  // namespace forklab
