// The only file that includes napi.h: converts between JavaScript and the engine.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "counters.h"
#include "engine.h"
#include "kcmp.h"
#include "load_driver.h"

namespace {

using forklab::EngineConfig;

#ifndef FORKLAB_VERSION
#define FORKLAB_VERSION "0.0.0"
#endif

// Settings arrive validated against lab/server/config.ts SERVE_OPTIONS (defaults and ranges live
// there only); here a value is checked for its type, and the engine asserts its invariants.
long long IntValue(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(env, "config: " + name + " must be a number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<long long>(d)) || d < -2147483648.0 ||
      d > 4294967295.0) {
    throw Napi::RangeError::New(env, "config: " + name + " must be an integer");
  }
  return static_cast<long long>(d);
}

long long IntField(const Napi::Object& o, const char* name) {
  return IntValue(o.Env(), o.Get(name), name);
}

double NumberField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(o.Env(), std::string("config: ") + name + " must be a number");
  }
  return v.As<Napi::Number>().DoubleValue();
}

bool BoolField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsBoolean()) {
    throw Napi::TypeError::New(o.Env(), std::string("config: ") + name + " must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

// An array of integers, each checked as IntField checks a field.
std::vector<int> IntArrayField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsArray()) {
    throw Napi::TypeError::New(o.Env(), std::string("config: ") + name + " must be an array");
  }
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    out.push_back(static_cast<int>(
        IntValue(o.Env(), a.Get(i), std::string(name) + "[" + std::to_string(i) + "]")));
  }
  return out;
}

std::string StringField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsString()) {
    throw Napi::TypeError::New(o.Env(), std::string("config: ") + name + " must be a string");
  }
  return v.As<Napi::String>().Utf8Value();
}

template <typename T>
T EnumField(const Napi::Object& o, const char* name, bool (*parse)(const std::string&, T*),
            const char* allowed) {
  std::string s = StringField(o, name);
  T out;
  if (!parse(s, &out)) {
    throw Napi::TypeError::New(o.Env(), std::string("config: ") + name + " must be one of " +
                                            allowed + ", got \"" + s + "\"");
  }
  return out;
}

EngineConfig ConfigFromJs(const Napi::Object& o) {
  EngineConfig c;
  c.host = StringField(o, "host");
  c.port = static_cast<int>(IntField(o, "port"));
  c.backlog = static_cast<int>(IntField(o, "backlog"));
  c.workers = static_cast<int>(IntField(o, "workers"));
  c.loop_creation = EnumField(o, "loopCreation", forklab::ParseLoopCreation,
                              "post-fork, pre-fork, pre-fork-late");
  c.on_eexist = EnumField(o, "onEexist", forklab::ParseOnEexist, "fail, ignore");
  c.trigger = EnumField(o, "trigger", forklab::ParseTrigger, "level, edge");
  c.exclusive = BoolField(o, "exclusive");
  c.reuse_port = BoolField(o, "reusePort");
  c.accept_batch = static_cast<int>(IntField(o, "acceptBatch"));
  c.max_requests = static_cast<std::uint64_t>(IntField(o, "maxRequests"));
  c.flavour = EnumField(o, "flavour", forklab::ParseFlavour, "tornado4, asyncio");
  c.keyerror_log_per_sec = static_cast<int>(IntField(o, "keyErrorLogPerSec"));
  c.stuck_after_ms = static_cast<int>(IntField(o, "stuckAfterMs"));
  c.max_fds = static_cast<int>(IntField(o, "maxFds"));
  c.client_header_buffer_bytes = static_cast<int>(IntField(o, "clientHeaderBufferBytes"));
  c.large_header_buffer_bytes = static_cast<int>(IntField(o, "largeHeaderBufferBytes"));
  c.large_header_buffers = static_cast<int>(IntField(o, "largeHeaderBuffers"));
  c.client_header_timeout_ms = static_cast<int>(IntField(o, "clientHeaderTimeoutMs"));
  c.client_body_timeout_ms = static_cast<int>(IntField(o, "clientBodyTimeoutMs"));
  c.keepalive_timeout_ms = static_cast<int>(IntField(o, "keepaliveTimeoutMs"));
  c.send_timeout_ms = static_cast<int>(IntField(o, "sendTimeoutMs"));
  Napi::Value pv = o.Get("pace");
  if (!pv.IsObject()) throw Napi::TypeError::New(o.Env(), "engine config: pace must be an object");
  Napi::Object p = pv.As<Napi::Object>();
  c.pace.cold_us = static_cast<int>(IntField(p, "coldUs"));
  c.pace.cold_request_us = static_cast<int>(IntField(p, "coldRequestUs"));
  c.pace.accept_us = static_cast<int>(IntField(p, "acceptUs"));
  c.pace.first_request_us = static_cast<int>(IntField(p, "firstRequestUs"));
  c.pace.register_us = static_cast<int>(IntField(p, "registerUs"));
  c.pace.close_us = static_cast<int>(IntField(p, "closeUs"));
  c.pace.request_us = static_cast<int>(IntField(p, "requestUs"));
  c.pace.request_after_us = static_cast<int>(IntField(p, "requestAfterUs"));
  c.pace.event_us = static_cast<int>(IntField(p, "eventUs"));
  c.pace.keyerror_us = static_cast<int>(IntField(p, "keyErrorUs"));
  c.pace.skip_us = static_cast<int>(IntField(p, "skipUs"));
  c.pace.gc_every = static_cast<int>(IntField(p, "gcEvery"));
  c.pace.gc_young_us = static_cast<int>(IntField(p, "gcYoungUs"));
  c.pace.gc_middle_us = static_cast<int>(IntField(p, "gcMiddleUs"));
  c.pace.gc_full_us = static_cast<int>(IntField(p, "gcFullUs"));
  c.pace.inline_read = BoolField(p, "inlineRead");
  c.pace.defer_answer = BoolField(p, "deferAnswer");
  c.pace.next_read_inline = BoolField(p, "nextReadInline");
  c.pace.work_per_us = NumberField(p, "workPerUs");
  c.pace.cpu_pct = IntArrayField(p, "cpuPct");
  return c;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("listen", &EngineWrap::Listen),
                           InstanceMethod("createParentLoop", &EngineWrap::CreateParentLoop),
                           InstanceMethod("registerListenerInParent",
                                          &EngineWrap::RegisterListenerInParent),
                           InstanceMethod("spawnWorker", &EngineWrap::SpawnWorker),
                           InstanceMethod("reap", &EngineWrap::Reap),
                           InstanceMethod("signalWorker", &EngineWrap::SignalWorker),
                           InstanceMethod("workerPid", &EngineWrap::WorkerPid),
                           InstanceMethod("counters", &EngineWrap::Counters),
                           InstanceMethod("layout", &EngineWrap::Layout),
                           InstanceMethod("close", &EngineWrap::Close),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    if (info.Length() != 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(info.Env(), "Engine(config): config must be an object");
    }
    EngineConfig c = ConfigFromJs(info[0].As<Napi::Object>());
    engine_ = Guard(info.Env(), [&] { return std::make_unique<forklab::Engine>(c); });
  }

 private:
  // Runs engine code and turns its C++ exceptions into JavaScript errors.
  template <typename F>
  static auto Guard(Napi::Env env, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("forklab engine: ") + e.what());
    }
  }

  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int port = Guard(env, [&] { return engine_->Listen(); });
    Napi::Object out = Napi::Object::New(env);
    out.Set("port", port);
    Napi::Array fds = Napi::Array::New(env, engine_->listen_fds().size());
    for (std::size_t i = 0; i < engine_->listen_fds().size(); ++i) {
      fds.Set(static_cast<uint32_t>(i), engine_->listen_fds()[i]);
    }
    out.Set("fds", fds);
    return out;
  }

  void CreateParentLoop(const Napi::CallbackInfo& info) {
    Guard(info.Env(), [&] { engine_->CreateParentLoop(); });
  }

  void RegisterListenerInParent(const Napi::CallbackInfo& info) {
    Guard(info.Env(), [&] { engine_->RegisterListenerInParent(); });
  }

  Napi::Value SpawnWorker(const Napi::CallbackInfo& info) {
    int index = info[0].As<Napi::Number>().Int32Value();
    pid_t pid = Guard(info.Env(), [&] { return engine_->SpawnWorker(index); });
    return Napi::Number::New(info.Env(), pid);
  }

  Napi::Value Reap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto reaped = Guard(env, [&] { return engine_->Reap(); });
    Napi::Array out = Napi::Array::New(env, reaped.size());
    for (std::size_t i = 0; i < reaped.size(); ++i) {
      Napi::Object w = Napi::Object::New(env);
      w.Set("index", reaped[i].index);
      w.Set("pid", reaped[i].pid);
      w.Set("exitCode", reaped[i].exit_code >= 0 ? Napi::Value(Napi::Number::New(env, reaped[i].exit_code))
                                                 : env.Null());
      w.Set("signal", reaped[i].signal >= 0 ? Napi::Value(Napi::Number::New(env, reaped[i].signal))
                                            : env.Null());
      out.Set(static_cast<uint32_t>(i), w);
    }
    return out;
  }

  Napi::Value SignalWorker(const Napi::CallbackInfo& info) {
    int index = info[0].As<Napi::Number>().Int32Value();
    int sig = info[1].As<Napi::Number>().Int32Value();
    return Napi::Boolean::New(info.Env(), engine_->SignalWorker(index, sig));
  }

  Napi::Value WorkerPid(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), engine_->WorkerPid(info[0].As<Napi::Number>().Int32Value()));
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& c = engine_->counters();
    // The mapping lives as long as the process (see SharedCounters): no finalizer needed.
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, c.base(), c.bytes());
    return Napi::BigUint64Array::New(env, c.bytes() / 8, buf, 0);
  }

  Napi::Value Layout(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    Napi::Array fields = Napi::Array::New(env, forklab::kFieldCount);
    Napi::Array kinds = Napi::Array::New(env, forklab::kFieldCount);
    for (std::size_t i = 0; i < forklab::kFieldCount; ++i) {
      fields.Set(static_cast<uint32_t>(i), forklab::kFields[i].name);
      kinds.Set(static_cast<uint32_t>(i), forklab::kFields[i].kind);
    }
    out.Set("fields", fields);
    out.Set("kinds", kinds);
    out.Set("stride", static_cast<double>(forklab::kSlotStride));
    out.Set("slots", static_cast<double>(engine_->counters().slots()));
    return out;
  }

  void Close(const Napi::CallbackInfo&) { engine_->Close(); }

  std::unique_ptr<forklab::Engine> engine_;
};

// kcmpFile(pid1, pid2, fd1, fd2): 0 same open file, 1/2 different, negative errno on failure.
Napi::Value KcmpFileJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int args[4];
  for (int i = 0; i < 4; ++i) {
    if (!info[i].IsNumber()) {
      throw Napi::TypeError::New(env, "kcmpFile(pid1, pid2, fd1, fd2): arguments must be numbers");
    }
    args[i] = info[i].As<Napi::Number>().Int32Value();
  }
  return Napi::Number::New(env, forklab::KcmpFile(args[0], args[1], args[2], args[3]));
}

// workRate(tries): the work burn's units per microsecond on this CPU now (native/pace.h).
Napi::Value WorkRateJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1) {
    throw Napi::TypeError::New(env, "workRate(tries): tries must be a number, 1 or more");
  }
  return Napi::Number::New(env, forklab::MeasureWorkRate(info[0].As<Napi::Number>().Int32Value()));
}

// --- the lean load driver (native/load_driver.h) ------------------------------------------------

forklab::LoadDriverConfig LoadConfigFromJs(const Napi::Object& o) {
  forklab::LoadDriverConfig c;
  Napi::Value targets = o.Get("targets");
  if (!targets.IsArray()) throw Napi::TypeError::New(o.Env(), "load driver: targets must be an array");
  Napi::Array a = targets.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value t = a.Get(i);
    if (!t.IsObject()) throw Napi::TypeError::New(o.Env(), "load driver: targets[] must be objects");
    Napi::Object to = t.As<Napi::Object>();
    c.targets.push_back({StringField(to, "host"), static_cast<int>(IntField(to, "port"))});
  }
  c.path = StringField(o, "path");
  c.churn = StringField(o, "mode") == "churn";
  c.connections = IntField(o, "connections");
  c.pipelining = IntField(o, "pipelining");
  c.timeout_ms = IntField(o, "timeoutMs");
  c.threads = IntField(o, "threads");
  Napi::Value rate = o.Get("rate");
  c.rate = rate.IsNumber() ? rate.As<Napi::Number>().DoubleValue() : 0;
  return c;
}

class LoadDriverWrap : public Napi::ObjectWrap<LoadDriverWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "LoadDriver",
                       {
                           InstanceMethod("start", &LoadDriverWrap::Start),
                           InstanceMethod("stop", &LoadDriverWrap::Stop),
                           InstanceMethod("finished", &LoadDriverWrap::Finished),
                           InstanceMethod("join", &LoadDriverWrap::Join),
                           InstanceMethod("read", &LoadDriverWrap::Read),
                           InstanceMethod("takeLatencies", &LoadDriverWrap::TakeLatencies),
                           InstanceMethod("takeLatencyCounts", &LoadDriverWrap::TakeLatencyCounts),
                       });
  }

  explicit LoadDriverWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LoadDriverWrap>(info) {
    if (info.Length() != 1 || !info[0].IsObject()) {
      throw Napi::TypeError::New(info.Env(), "LoadDriver(config): config must be an object");
    }
    forklab::LoadDriverConfig c = LoadConfigFromJs(info[0].As<Napi::Object>());
    try {
      driver_ = std::make_unique<forklab::LoadDriver>(c);
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("load driver: ") + e.what());
    }
  }

 private:
  void Start(const Napi::CallbackInfo& info) {
    try {
      driver_->Start();
    } catch (const std::exception& e) {
      throw Napi::Error::New(info.Env(), std::string("load driver: ") + e.what());
    }
  }
  void Stop(const Napi::CallbackInfo& info) { driver_->Stop(info[0].As<Napi::Number>().Int32Value()); }
  Napi::Value Finished(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), driver_->Finished());
  }
  void Join(const Napi::CallbackInfo&) { driver_->Join(); }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    forklab::LoadTotals t = driver_->Read();
    Napi::Object out = Napi::Object::New(env);
    auto n = [](std::uint64_t v) { return static_cast<double>(v); };
    out.Set("sent", n(t.sent));
    out.Set("responses", n(t.responses));
    out.Set("status2xx", n(t.status_2xx));
    out.Set("statusOther", n(t.status_other));
    out.Set("errors", n(t.errors));
    out.Set("timeouts", n(t.timeouts));
    out.Set("bytesRead", n(t.bytes_read));
    out.Set("samplesDropped", n(t.samples_dropped));
    out.Set("cpuNs", n(t.cpu_ns));
    out.Set("wallNs", n(t.wall_ns));
    out.Set("passes", n(t.passes));
    out.Set("idleNs", n(t.idle_ns));
    out.Set("threadsRunning", t.threads_running);
    return out;
  }

  Napi::Value TakeLatencies(const Napi::CallbackInfo& info) {
    scratch_.clear();
    driver_->TakeLatencies(&scratch_);
    return ScratchArray(info.Env());
  }

  // [µs, count, µs, count, …]
  Napi::Value TakeLatencyCounts(const Napi::CallbackInfo& info) {
    scratch_.clear();
    driver_->TakeLatencyCounts(&scratch_);
    return ScratchArray(info.Env());
  }

  Napi::Uint32Array ScratchArray(Napi::Env env) {
    Napi::Uint32Array out = Napi::Uint32Array::New(env, scratch_.size());
    if (!scratch_.empty()) std::memcpy(out.Data(), scratch_.data(), scratch_.size() * sizeof(std::uint32_t));
    return out;
  }

  std::unique_ptr<forklab::LoadDriver> driver_;
  std::vector<std::uint32_t> scratch_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Define(env));
  exports.Set("LoadDriver", LoadDriverWrap::Define(env));
  exports.Set("engineVersion", Napi::String::New(env, FORKLAB_VERSION));
  exports.Set("kcmpFile", Napi::Function::New(env, KcmpFileJs, "kcmpFile"));
  exports.Set("workRate", Napi::Function::New(env, WorkRateJs, "workRate"));
  return exports;
}

}  // namespace

NODE_API_MODULE(forklab, Init)
