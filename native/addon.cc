// The only file that includes napi.h: converts between JavaScript and the engine.
#include <napi.h>

#include <memory>
#include <string>

#include "config.h"
#include "counters.h"
#include "engine.h"

namespace {

using forklab::EngineConfig;

#ifndef FORKLAB_VERSION
#define FORKLAB_VERSION "0.0.0"
#endif

int IntField(const Napi::Object& o, const char* name, int lo, int hi) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(o.Env(), std::string("engine config: ") + name + " must be a number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<long long>(d)) || d < lo || d > hi) {
    throw Napi::RangeError::New(o.Env(), std::string("engine config: ") + name +
                                             " must be an integer from " + std::to_string(lo) +
                                             " to " + std::to_string(hi));
  }
  return static_cast<int>(d);
}

bool BoolField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsBoolean()) {
    throw Napi::TypeError::New(o.Env(), std::string("engine config: ") + name + " must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

std::string StringField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsString()) {
    throw Napi::TypeError::New(o.Env(), std::string("engine config: ") + name + " must be a string");
  }
  return v.As<Napi::String>().Utf8Value();
}

template <typename T>
T EnumField(const Napi::Object& o, const char* name, bool (*parse)(const std::string&, T*),
            const char* allowed) {
  std::string s = StringField(o, name);
  T out;
  if (!parse(s, &out)) {
    throw Napi::TypeError::New(o.Env(), std::string("engine config: ") + name + " must be one of " +
                                            allowed + ", got \"" + s + "\"");
  }
  return out;
}

EngineConfig ConfigFromJs(const Napi::Object& o) {
  EngineConfig c;
  c.host = StringField(o, "host");
  c.port = IntField(o, "port", 0, 65535);
  c.backlog = IntField(o, "backlog", 1, 65535);
  c.workers = IntField(o, "workers", 1, 64);
  c.loop_creation = EnumField(o, "loopCreation", forklab::ParseLoopCreation,
                              "post-fork, pre-fork, pre-fork-late");
  c.on_eexist = EnumField(o, "onEexist", forklab::ParseOnEexist, "fail, ignore");
  c.trigger = EnumField(o, "trigger", forklab::ParseTrigger, "level, edge");
  c.exclusive = BoolField(o, "exclusive");
  c.reuse_port = BoolField(o, "reusePort");
  c.accept_batch = IntField(o, "acceptBatch", 1, 4096);
  c.max_requests = static_cast<std::uint64_t>(IntField(o, "maxRequests", 0, 1000000000));
  c.flavour = EnumField(o, "flavour", forklab::ParseFlavour, "tornado4, asyncio");
  c.keyerror_log_per_sec = IntField(o, "keyErrorLogPerSec", 0, 10000);
  c.stuck_after_ms = IntField(o, "stuckAfterMs", 100, 600000);
  c.max_fds = IntField(o, "maxFds", 0, 1048576);
  Napi::Value pv = o.Get("pace");
  if (!pv.IsObject()) throw Napi::TypeError::New(o.Env(), "engine config: pace must be an object");
  Napi::Object p = pv.As<Napi::Object>();
  c.pace.accept_us = IntField(p, "acceptUs", 0, forklab::kMaxPaceUs);
  c.pace.request_us = IntField(p, "requestUs", 0, forklab::kMaxPaceUs);
  c.pace.event_us = IntField(p, "eventUs", 0, forklab::kMaxPaceUs);
  c.pace.keyerror_us = IntField(p, "keyErrorUs", 0, forklab::kMaxPaceUs);
  c.pace.skip_us = IntField(p, "skipUs", 0, forklab::kMaxPaceUs);
  c.pace.inline_read = BoolField(p, "inlineRead");
  c.pace.defer_answer = BoolField(p, "deferAnswer");
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Define(env));
  exports.Set("engineVersion", Napi::String::New(env, FORKLAB_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(forklab, Init)
