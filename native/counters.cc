#include "counters.h"

#include <sys/mman.h>

namespace forklab {

const FieldInfo kFields[kFieldCount] = {
#define FORKLAB_INFO(name, kind, meaning) {#name, #kind, meaning},
    FORKLAB_COUNTERS(FORKLAB_INFO)
#undef FORKLAB_INFO
};

// The mapping is never unmapped: JavaScript holds an external ArrayBuffer over it that may outlive
// the engine object, and a supervisor makes one engine in its lifetime.
SharedCounters::~SharedCounters() = default;

bool SharedCounters::Map(std::size_t slots) {
  void* p = mmap(nullptr, slots * kSlotStride * 8, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  base_ = static_cast<std::uint64_t*>(p);  // anonymous mappings start zeroed
  slots_ = slots;
  return true;
}

}  // namespace forklab
