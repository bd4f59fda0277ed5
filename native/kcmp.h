// kcmp(2) with KCMP_FILE: whether two fds of two processes are the same open file description.
// The only way to tell from outside whether processes share one epoll instance: every epoll fd
// reads as `anon_inode:[eventpoll]` in /proc/<pid>/fd, so the links do not tell instances apart.
#ifndef FORKLAB_KCMP_H_
#define FORKLAB_KCMP_H_

#include <sys/types.h>

namespace forklab {

// 0: the same open file; 1 or 2: different (an ordering the kernel defines, usable for sorting);
// a negative errno on failure (-EPERM without ptrace access to both processes, -ESRCH when one
// is gone, -EBADF when an fd is not open, -ENOSYS on a kernel built without CONFIG_KCMP).
int KcmpFile(pid_t pid1, pid_t pid2, int fd1, int fd2);

}  // namespace forklab

#endif  // FORKLAB_KCMP_H_
