// The engine's configuration: what the supervisor passes in, checked again here so that the C++
// side never runs an impossible combination (lab/server/config.ts gives users the friendly errors).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pace.h"

namespace forklab {

enum class LoopCreation { kPostFork, kPreFork, kPreForkLate };
enum class Flavour { kTornado4, kAsyncio };
enum class Trigger { kLevel, kEdge };
enum class OnEexist { kFail, kIgnore };

struct EngineConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  int backlog = 128;  // Tornado 4's _DEFAULT_BACKLOG
  int workers = 2;
  LoopCreation loop_creation = LoopCreation::kPostFork;
  OnEexist on_eexist = OnEexist::kFail;
  Trigger trigger = Trigger::kLevel;
  bool exclusive = false;
  bool reuse_port = false;
  int accept_batch = 128;  // Tornado 4's accept_handler loops up to _DEFAULT_BACKLOG times
  std::uint64_t max_requests = 0;
  Flavour flavour = Flavour::kTornado4;
  int keyerror_log_per_sec = 5;
  int stuck_after_ms = 1000;
  int max_fds = 0;
  PaceCosts pace;  // all zero: the native engine
};

// Every problem at once, each naming the field and the fix. Empty when the config is usable.
std::vector<std::string> Validate(const EngineConfig& c);

bool ParseLoopCreation(const std::string& s, LoopCreation* out);
bool ParseFlavour(const std::string& s, Flavour* out);
bool ParseTrigger(const std::string& s, Trigger* out);
bool ParseOnEexist(const std::string& s, OnEexist* out);

}  // namespace forklab
