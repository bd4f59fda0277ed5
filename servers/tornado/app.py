"""A pre-forking Tornado server with the forklab engine's routes and loop-creation choices.

    python3 app.py --port P --metrics-port M --workers N --loop-creation post-fork|pre-fork|pre-fork-late

Routes as the engine's: GET / ("Hello, world"), /pid ({"worker":i,"pid":p}), /healthz, /delay?ms=N.

Loop creation (the parent binds the listening sockets first in every case, then forks like
tornado.process.fork_processes: one os.fork() per worker):
- post-fork: each worker creates its own loop (asyncio.run) and adds the sockets to it;
- pre-fork: the parent creates the IOLoop and adds the sockets, then forks; each worker starts the
  inherited loop: every worker waits on the same epoll instance;
- pre-fork-late: the parent creates the IOLoop, each worker adds the sockets: epoll_ctl gives EEXIST
  in all but the first, Tornado raises, and that worker exits with status 4 (as the engine's
  --on-eexist fail).

The parent never runs a loop: it serves the workers' counters (forklab_instrument.py) on the
metrics port (/snapshot.json, /metrics, /healthz) in the engine's shape, reaps its own workers (no
restarts) and stops them on SIGTERM/SIGINT, or when its stdin closes with FORKLAB_LIFELINE=stdin.
"""

import argparse
import asyncio
import ctypes
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forklab_instrument as instrument  # noqa: E402  (before Tornado serves anything)

instrument.install()

import tornado  # noqa: E402
import tornado.httpserver  # noqa: E402
import tornado.ioloop  # noqa: E402
import tornado.netutil  # noqa: E402
import tornado.web  # noqa: E402

LOOP_CREATIONS = ("post-fork", "pre-fork", "pre-fork-late")
EXIT_EEXIST = 4  # the engine's WorkerExit.eexist
EXIT_STARTUP_FAILED = 5  # the engine's WorkerExit.startupFailed
MAX_DELAY_MS = 60000
RUSAGE_EVERY_S = 0.25
PR_SET_PDEATHSIG = 1

worker_index = -1


class Handler(tornado.web.RequestHandler):
    def compute_etag(self):
        return None

    def text(self, body, content_type="text/plain"):
        self.set_header("Content-Type", content_type)
        self.finish(body)


class Hello(Handler):
    def get(self):
        self.text("Hello, world\n")


class Pid(Handler):
    def get(self):
        self.text(json.dumps({"worker": worker_index, "pid": os.getpid()}, separators=(",", ":"))
                  + "\n", "application/json")


class Healthz(Handler):
    def get(self):
        self.text("ok\n")


class Delay(Handler):
    async def get(self):
        raw = self.get_query_argument("ms", "")
        if not (raw.isdigit() and len(raw) <= 6 and int(raw) <= MAX_DELAY_MS):
            self.set_status(400)
            self.text("/delay needs ms=N with N an integer from 0 to 60000\n")
            return
        ms = int(raw)
        await asyncio.sleep(ms / 1000)
        self.text("delayed %d ms\n" % ms)


class NotFound(Handler):
    def prepare(self):
        self.set_status(404)
        self.text("not found\n")


def make_app():
    return tornado.web.Application(
        [(r"/", Hello), (r"/pid", Pid), (r"/healthz", Healthz), (r"/delay", Delay)],
        default_handler_class=NotFound,
    )


def parse_args(argv):
    p = argparse.ArgumentParser(prog="forklab-tornado", description=__doc__.split("\n")[0])
    p.add_argument("--name", default="tornado")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--metrics-host", default=None)
    p.add_argument("--metrics-port", type=int, default=9080)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--backlog", type=int, default=128)
    p.add_argument("--loop-creation", choices=LOOP_CREATIONS, default="post-fork")
    a = p.parse_args(argv)
    errors = []
    if not 1 <= a.workers <= 64:
        errors.append("--workers must be an integer from 1 to 64")
    for flag, v in (("--port", a.port), ("--metrics-port", a.metrics_port)):
        if not 0 <= v <= 65535:
            errors.append("%s must be from 0 to 65535 (0 picks a free port)" % flag)
    if not 1 <= a.backlog <= 65535:
        errors.append("--backlog must be from 1 to 65535")
    if errors:
        p.error("; ".join(errors))
    return a


def worker_main(args, slots, index, sockets, parent_loop):
    """Runs in the child after fork; never returns."""
    global worker_index
    worker_index = index
    code = 0
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        instrument.become_worker(slots, index)
        signal.signal(signal.SIGTERM, lambda *_: stop_worker(0))
        signal.signal(signal.SIGINT, lambda *_: stop_worker(0))
        if args.loop_creation == "post-fork":

            async def serve():
                server = tornado.httpserver.HTTPServer(make_app())
                server.add_sockets(sockets)
                start_rusage_timer()
                instrument.mark_set_up()
                await asyncio.Event().wait()

            asyncio.run(serve())
        else:
            io_loop = parent_loop
            if args.loop_creation == "pre-fork-late":
                server = tornado.httpserver.HTTPServer(make_app())
                try:
                    server.add_sockets(sockets)
                except FileExistsError as e:
                    print("forklab-tornado: worker %d: %s registering the listening socket in "
                          "the inherited epoll instance; exiting" % (index, e), file=sys.stderr,
                          flush=True)
                    stop_worker(EXIT_EEXIST)
            io_loop.add_callback(start_rusage_timer)
            instrument.mark_set_up()
            io_loop.start()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # noqa: BLE001  (a worker must never return into the parent's code)
        print("forklab-tornado: worker %d failed: %r" % (index, e), file=sys.stderr, flush=True)
        code = EXIT_STARTUP_FAILED
    stop_worker(code)


def start_rusage_timer():
    instrument.publish_rusage()
    tornado.ioloop.PeriodicCallback(instrument.publish_rusage, RUSAGE_EVERY_S * 1000).start()


def stop_worker(code):
    instrument.publish_rusage()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


EXIT_REASONS = ("clean", "cycled", "eexist", "startup_failed", "crash", "signal")


def exit_reason(status):
    if os.WIFSIGNALED(status):
        return "signal"
    code = os.WEXITSTATUS(status)
    return {0: "clean", 3: "cycled", EXIT_EEXIST: "eexist", EXIT_STARTUP_FAILED: "startup_failed"}.get(
        code, "crash")


class Parent:
    def __init__(self, args, slots, port):
        self.args = args
        self.slots = slots
        self.port = port
        self.metrics_port = args.metrics_port
        self.pids = [0] * args.workers
        self.exits = [{r: 0 for r in EXIT_REASONS} for _ in range(args.workers)]
        self.failed = [None] * args.workers
        self.stopping = False
        self.lock = threading.Lock()

    def config(self):
        a = self.args
        return {
            "kind": "tornado",
            "name": a.name,
            "host": a.host,
            "port": self.port,
            "metricsHost": a.metrics_host or a.host,
            "metricsPort": self.metrics_port,
            "workers": a.workers,
            "backlog": a.backlog,
            "loopCreation": a.loop_creation,
            "flavour": "asyncio",
            "trigger": "level",
            "exclusive": False,
            "reusePort": False,
            "tornadoVersion": tornado.version,
            "pythonVersion": "%d.%d.%d" % sys.version_info[:3],
        }

    def snapshot(self):
        counters = self.slots.read()
        with self.lock:
            pids, failed, exits, stopping = list(self.pids), list(self.failed), self.exits, self.stopping
            workers = [
                dict(
                    index=i,
                    pid=pids[i],
                    up=pids[i] > 0,
                    failed=failed[i] is not None,
                    **({} if failed[i] is None else {"failedReason": failed[i]}),
                    restarts=0,
                    restartsByReason={"crash": 0, "cycled": 0, "clean": 0},
                    exits=dict(exits[i]),
                    counters=counters[i],
                )
                for i in range(self.args.workers)
            ]
        return {
            "name": self.args.name,
            "engineVersion": "tornado-%s" % tornado.version,
            "port": self.port,
            "metricsPort": self.metrics_port,
            "stopping": stopping,
            "takenAtMs": int(time.time() * 1000),
            "config": self.config(),
            "workers": workers,
        }

    def health(self):
        snap = self.snapshot()
        if snap["stopping"]:
            return False, "stopping"
        alive = [w for w in snap["workers"] if w["up"]]
        if not alive:
            return False, "no worker is running; failed: " + ", ".join(
                "worker %d (%s)" % (w["index"], w.get("failedReason", "failed"))
                for w in snap["workers"])
        starting = [w for w in alive if w["counters"]["pid"] != w["pid"]]
        if starting:
            return False, "still setting up: " + ", ".join("worker %d" % w["index"] for w in starting)
        return True, "ok"

    def reap(self):
        for i, pid in enumerate(self.pids):
            if pid <= 0:
                continue
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                got, status = pid, 0
            if got == pid:
                reason = exit_reason(status)
                with self.lock:
                    self.pids[i] = 0
                    self.exits[i][reason] += 1
                    if not self.stopping:
                        self.failed[i] = reason
                if not self.stopping:
                    print("forklab-tornado: worker %d (pid %d) exited: %s; not restarted"
                          % (i, pid, reason), file=sys.stderr, flush=True)

    def stop_workers(self, grace_s=3.0):
        with self.lock:
            self.stopping = True
        for pid in self.pids:
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        while any(p > 0 for p in self.pids) and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)
        for pid in self.pids:
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 2.0
        while any(p > 0 for p in self.pids) and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.02)


def metrics_handler(parent):
    import prom_text

    class MetricsHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def send(self, status, content_type, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?")[0]
            try:
                if path == "/snapshot.json":
                    self.send(200, "application/json; charset=utf-8",
                              json.dumps(parent.snapshot(), indent=2) + "\n")
                elif path == "/healthz":
                    ok, reason = parent.health()
                    self.send(200 if ok else 503, "text/plain; charset=utf-8", reason + "\n")
                elif path == "/metrics":
                    self.send(200, "text/plain; version=0.0.4; charset=utf-8",
                              prom_text.render(parent.snapshot()))
                else:
                    self.send(404, "text/plain; charset=utf-8",
                              "not found: try /metrics, /healthz or /snapshot.json\n")
            except Exception as e:  # noqa: BLE001
                self.send(500, "text/plain; charset=utf-8", "%s failed: %r\n" % (path, e))

        do_HEAD = do_GET

    return MetricsHandler


def main(argv):
    args = parse_args(argv)
    slots = instrument.SharedSlots(args.workers)
    sockets = tornado.netutil.bind_sockets(args.port, args.host, backlog=args.backlog)
    port = sockets[0].getsockname()[1]
    parent_loop = None
    if args.loop_creation in ("pre-fork", "pre-fork-late"):
        # The bug in the story: the IOLoop (one epoll instance) exists before the fork.
        asyncio.set_event_loop(asyncio.new_event_loop())
        parent_loop = tornado.ioloop.IOLoop.current()
        if args.loop_creation == "pre-fork":
            server = tornado.httpserver.HTTPServer(make_app())
            server.add_sockets(sockets)
    metrics = ThreadingHTTPServer((args.metrics_host or args.host, args.metrics_port), None)
    parent = Parent(args, slots, port)
    parent.metrics_port = metrics.server_address[1]
    sys.stdout.flush()
    sys.stderr.flush()
    for i in range(args.workers):
        pid = os.fork()
        if pid == 0:
            metrics.socket.close()
            worker_main(args, slots, i, sockets, parent_loop)
        parent.pids[i] = pid
    metrics.RequestHandlerClass = metrics_handler(parent)
    metrics.daemon_threads = True

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if os.environ.get("FORKLAB_LIFELINE") == "stdin":
        def lifeline():
            while os.read(0, 4096):
                pass
            done.set()
        threading.Thread(target=lifeline, daemon=True).start()
    threading.Thread(target=metrics.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    print("FORKLAB_READY " + json.dumps({"port": port, "metricsPort": parent.metrics_port,
                                         "pids": parent.pids}, separators=(",", ":")), flush=True)
    while not done.wait(0.05):
        parent.reap()
        if all(p == 0 for p in parent.pids):
            print("forklab-tornado: no worker left; stopping", file=sys.stderr, flush=True)
            break
    parent.stop_workers()
    metrics.shutdown()
    # Leave without closing the inherited loop: in pre-fork its epoll instance is the workers'.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
