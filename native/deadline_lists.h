// Connection timeouts in O(1): one intrusive FIFO list per kind of timeout.
//
// Every timeout of one kind has the same duration (clientHeaderTimeoutMs, …) and is armed at the
// loop's monotonic `now`, so arming appends in deadline order: each list is sorted by construction,
// re-arming is unlink + append, and the earliest deadline of a kind is its list's head. (nginx keeps
// one red-black tree of all timers and libuv a binary heap; with fixed durations a list per kind
// does the same job without the log n.) The worker asks for the earliest head, sleeps in epoll_wait
// until then at most, and expires heads in bounded batches.
#pragma once

#include <cassert>
#include <cstddef>

namespace forklab {

struct DeadlineNode {
  DeadlineNode* prev = nullptr;
  DeadlineNode* next = nullptr;
  double deadline = 0;
  int kind = -1;  // the list it is on, -1 when disarmed
  bool armed() const { return kind >= 0; }
};

template <int kKinds>
class DeadlineLists {
 public:
  // Appends `n` to list `kind`; `deadline` must not be earlier than that list's tail.
  void Arm(DeadlineNode* n, int kind, double deadline) {
    assert(kind >= 0 && kind < kKinds);
    Disarm(n);
    List& l = lists_[kind];
    assert(l.tail == nullptr || l.tail->deadline <= deadline);
    n->kind = kind;
    n->deadline = deadline;
    n->prev = l.tail;
    n->next = nullptr;
    if (l.tail != nullptr) l.tail->next = n;
    else l.head = n;
    l.tail = n;
    ++size_;
  }

  void Disarm(DeadlineNode* n) {
    if (!n->armed()) return;
    List& l = lists_[n->kind];
    if (n->prev != nullptr) n->prev->next = n->next;
    else l.head = n->next;
    if (n->next != nullptr) n->next->prev = n->prev;
    else l.tail = n->prev;
    n->prev = n->next = nullptr;
    n->kind = -1;
    --size_;
  }

  // The earliest deadline of all lists; only meaningful when !empty().
  double Earliest() const {
    double best = 0;
    bool any = false;
    for (const List& l : lists_) {
      if (l.head != nullptr && (!any || l.head->deadline < best)) {
        best = l.head->deadline;
        any = true;
      }
    }
    return best;
  }

  // Disarms and returns one node whose deadline is at or before `now` (its list in *kind), or
  // nullptr.
  DeadlineNode* PopExpired(double now, int* kind) {
    for (List& l : lists_) {
      if (l.head != nullptr && l.head->deadline <= now) {
        DeadlineNode* n = l.head;
        *kind = n->kind;
        Disarm(n);
        return n;
      }
    }
    return nullptr;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

 private:
  struct List {
    DeadlineNode* head = nullptr;
    DeadlineNode* tail = nullptr;
  };
  List lists_[kKinds];
  std::size_t size_ = 0;
};

}  // namespace forklab
