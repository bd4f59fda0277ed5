// The engine's configuration: what the supervisor passes in. Defaults and ranges live in one
// place, lab/server/config.ts SERVE_OPTIONS (every field is always given); here the engine only
// checks the invariants it cannot run without (Validate).
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
  std::string host;
  int port{};
  int backlog{};
  int workers{};
  LoopCreation loop_creation{};
  OnEexist on_eexist{};
  Trigger trigger{};
  bool exclusive{};
  bool reuse_port{};
  int accept_batch{};
  std::uint64_t max_requests{};
  Flavour flavour{};
  int keyerror_log_per_sec{};
  int stuck_after_ms{};
  int max_fds{};
  // Hostile clients (nginx's names; defaults and ranges in lab/server/config.ts).
  int client_header_buffer_bytes{};  // input buffer a connection keeps between requests
  int large_header_buffer_bytes{};   // longest request line or header field
  int large_header_buffers{};        // head limit = buffers × bytes
  int client_header_timeout_ms{};    // whole head, from its first byte (or the accept)
  int client_body_timeout_ms{};      // between two reads of a body
  int keepalive_timeout_ms{};        // idle between requests
  int send_timeout_ms{};             // between two writes of a response
  PaceCosts pace;  // all zero: the native engine
};

// The invariants the engine relies on, every one broken at once; empty when it can run. These are
// not the user-facing ranges (lab/server/config.ts), only what would make the engine misbehave.
std::vector<std::string> Validate(const EngineConfig& c);

bool ParseLoopCreation(const std::string& s, LoopCreation* out);
bool ParseFlavour(const std::string& s, Flavour* out);
bool ParseTrigger(const std::string& s, Trigger* out);
bool ParseOnEexist(const std::string& s, OnEexist* out);

}  // namespace forklab
