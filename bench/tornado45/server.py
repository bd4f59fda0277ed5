"""Real Tornado 4.5.3, pre-fork or post-fork, beside the paced engine on the same machine.

    TORNADO45=/path/to/dir-holding-tornado python3 server.py PORT WORKERS pre-fork|post-fork OUT

PORT 0 binds a free port; the port bound is printed on the ready line (`READY <port>`).

TORNADO45 is a directory holding the `tornado` package of tag v4.5.3 (no registry here has it;
`git --git-dir=<tornado clone> archive v4.5.3 tornado | tar x`). Python 3.10+ removed the
collections aliases Tornado 4.5 imports; they are put back before the import. The parent binds
the socket and (pre-fork) creates the IOLoop and adds the socket before forking, as the lab's
pre-fork. Each worker logs as Tornado does (tracebacks of every KeyError to OUT.wN.log, the
access log off) and on SIGTERM writes OUT.wN.json: accepted connections, requests, KeyErrors,
connections registered in epoll (IOStream's add_handler, when a read would block), the split 1 s
in, epoll_wait calls and the events they returned (in both modes: the loop's epoll object is
wrapped before the server's socket is added), and its CPU seconds.
TORNADO45_ACCEPT_BURN_US=N adds N µs of CPU to each accepted connection before Tornado's first read
of it (in `handle_stream`), to try how the churn KeyErrors depend on that path's length.
TORNADO45_SLOW_SHARE=P (0 to 1) runs that share of each worker's loop passes, drawn at random per
pass, under a no-op `sys.setprofile`, which slows the interpreter in them (every call and return
goes through the profiling path; the kernel and wrk are not slowed): real Tornado at a slower
interpreter's speed, as on a slower machine, to compare with the engine at the same CPU per request
(`bench:fidelity --against tornado45 --speed match`). P = 1 slows every pass.
Slowed at random per pass, Tornado counts several times the churn KeyErrors it counts slowed evenly
to the same CPU per request (README, "Slowed how"): a machine is not slow that way.
TORNADO45_SLOW_CPU=K runs under it the passes that start on CPU K instead: a machine with one slower
CPU, as this lab's VM is at times. Not with TORNADO45_SLOW_SHARE.
TORNADO45_PHASES=1 times, per connection, where a worker spends the time of a connection's life
(time.perf_counter: under load the worker is busy, so this is its CPU): from the accept to the first
read (`phases.accept_to_read`: TCPServer._handle_connection to IOStream.read_from_fd), from that
read to the close (`phases.read_to_close`: to IOStream.close_fd, the answer written), and from the
close to the next thing the worker does outside this connection (`phases.close_to_next`: the next
accept's _handle_connection or the next epoll_wait): medians in µs, with `phases.n` connections.
For a connection whose first read finds nothing (wrk has not written its request yet), from that
read to _handle_connection's return (`phases.empty_read_to_return`: IOStream registering the fd with
add_handler, the request coroutines suspending), median in µs of `phases.n_empty` such connections.
It also times CPython's cyclic garbage collector (gc.callbacks, time.thread_time: the worker's CPU):
`phases.gc` holds, per generation (young 0, middle 1, full 2), the collections and their mean CPU µs.
Load it with `wrk -t1 -c32 -d10s --timeout 2s [-H 'Connection: close'] http://127.0.0.1:PORT/`.
"""
import collections, collections.abc, sys, os, signal, json, logging, time
for n in ("MutableMapping", "Mapping", "Sequence", "Callable", "MutableSet", "Iterable"):
    setattr(collections, n, getattr(collections.abc, n))
sys.path.insert(0, os.environ["TORNADO45"])
import tornado, tornado.ioloop, tornado.web, tornado.httpserver, tornado.netutil, tornado.log
assert tornado.version == "4.5.3", tornado.version
port, workers, mode, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
accept_burn_s = float(os.environ.get("TORNADO45_ACCEPT_BURN_US", "0")) / 1e6
slow_share = float(os.environ.get("TORNADO45_SLOW_SHARE", "0"))
assert 0 <= slow_share <= 1, f"TORNADO45_SLOW_SHARE must be 0 to 1, got {slow_share}"
slow_draw = __import__("random").Random().random
slow_cpu = int(os.environ.get("TORNADO45_SLOW_CPU", "-1"))
assert slow_cpu < os.cpu_count(), f"TORNADO45_SLOW_CPU must be a CPU of this machine, got {slow_cpu}"
assert slow_cpu < 0 or slow_share == 0, "TORNADO45_SLOW_CPU and TORNADO45_SLOW_SHARE exclude each other"
sched_getcpu = __import__("ctypes").CDLL(None, use_errno=True).sched_getcpu
def no_profile(frame, event, arg): pass
stats = {"accepts": 0, "requests": 0, "keyerrors": 0, "split_at_1s": None, "registered": 0}
class KeyErrorCount(logging.Filter):
    def filter(self, rec):
        if rec.exc_info and rec.exc_info[0] is KeyError:
            stats["keyerrors"] += 1
        return True
tornado.log.app_log.addFilter(KeyErrorCount())
class Hello(tornado.web.RequestHandler):
    def compute_etag(self): return None
    def get(self):
        stats["requests"] += 1
        self.finish("Hello, world\n")
class Server(tornado.httpserver.HTTPServer):
    def handle_stream(self, stream, address):
        stats["accepts"] += 1
        if accept_burn_s > 0:
            until = time.thread_time() + accept_burn_s
            while time.thread_time() < until:
                pass
        return super().handle_stream(stream, address)
if os.environ.get("TORNADO45_PHASES") == "1":
    import tornado.tcpserver, tornado.iostream
    clock = time.perf_counter
    phase = {"acc": {}, "read": {}, "closed": None, "a": [], "r": [], "c": [], "empty": {}, "e": []}
    def close_to_next(now):
        if phase["closed"] is not None:
            phase["c"].append(now - phase["closed"]); phase["closed"] = None
    handle_connection = tornado.tcpserver.TCPServer._handle_connection
    def timed_handle_connection(self, connection, address):
        now = clock(); close_to_next(now)
        fd = connection.fileno()
        phase["acc"][fd] = now
        result = handle_connection(self, connection, address)
        empty = phase["empty"].pop(fd, None)
        if empty is not None:
            phase["e"].append(clock() - empty)
        return result
    tornado.tcpserver.TCPServer._handle_connection = timed_handle_connection
    read_from_fd = tornado.iostream.IOStream.read_from_fd
    def timed_read_from_fd(self):
        fd = self.socket.fileno()
        acc = phase["acc"].pop(fd, None)
        if acc is None:
            return read_from_fd(self)
        now = clock(); phase["a"].append(now - acc); phase["read"][fd] = now
        chunk = read_from_fd(self)
        if chunk is None:  # would block: the connection goes into epoll, not a request's read
            phase["read"].pop(fd)
            phase["empty"][fd] = clock()
        return chunk
    tornado.iostream.IOStream.read_from_fd = timed_read_from_fd
    close_fd = tornado.iostream.IOStream.close_fd
    def timed_close_fd(self):
        fd = self.socket.fileno()
        read = phase["read"].pop(fd, None)
        phase["acc"].pop(fd, None)
        close_fd(self)
        if read is not None:
            now = clock(); phase["r"].append(now - read); phase["closed"] = now
    tornado.iostream.IOStream.close_fd = timed_close_fd
    import gc
    gc_started, gc_runs = [0.0], {0: [], 1: [], 2: []}
    def gc_timed(stage, info):
        if stage == "start":
            gc_started[0] = time.thread_time()
        else:
            gc_runs[info["generation"]].append(time.thread_time() - gc_started[0])
    gc.callbacks.append(gc_timed)
    def phases():
        med = lambda xs: round(1e6 * sorted(xs)[len(xs) // 2], 1) if xs else None
        return {"accept_to_read": med(phase["a"]), "read_to_close": med(phase["r"]),
                "close_to_next": med(phase["c"]), "n": len(phase["r"]),
                "empty_read_to_return": med(phase["e"]), "n_empty": len(phase["e"]),
                "gc": {str(g): [len(xs), round(1e6 * sum(xs) / len(xs), 1) if xs else 0]
                       for g, xs in gc_runs.items()}}
else:
    close_to_next = phases = None
app = tornado.web.Application([(r"/", Hello)])
socks = tornado.netutil.bind_sockets(port, "127.0.0.1")
bound = socks[0].getsockname()[1]
listening = {sock.fileno() for sock in socks}
class EpollSpy:
    def __init__(self, impl): self.impl = impl
    def fileno(self): return self.impl.fileno()
    def close(self): self.impl.close()
    def register(self, fd, ev):
        if fd not in listening: stats["registered"] += 1
        return self.impl.register(fd, ev)
    def modify(self, fd, ev): stats["mod"] = stats.get("mod", 0) + 1; return self.impl.modify(fd, ev)
    def unregister(self, fd): return self.impl.unregister(fd)
    def poll(self, timeout):
        if close_to_next: close_to_next(time.perf_counter())
        r = self.impl.poll(timeout)
        if slow_cpu >= 0:
            sys.setprofile(no_profile if sched_getcpu() == slow_cpu else None)
        elif slow_share > 0:
            sys.setprofile(no_profile if slow_share >= 1 or slow_draw() < slow_share else None)
        h = tornado.ioloop.IOLoop.current()._handlers
        stats["polls"] = stats.get("polls", 0) + 1
        stats["events"] = stats.get("events", 0) + len(r)
        unk = sum(1 for fd, _ in r if fd not in h)
        stats["unknown"] = stats.get("unknown", 0) + unk
        if r and unk == len(r): stats["only_unknown_polls"] = stats.get("only_unknown_polls", 0) + 1
        return r
if mode == "pre-fork":
    loop = tornado.ioloop.IOLoop.current()
    loop._impl = EpollSpy(loop._impl)
    server = Server(app)
    server.add_sockets(socks)
kids = []
# READY once every worker runs its loop (a callback of its first pass writes a byte), as the engine
# announces itself only when its workers are set up: load started before then would find some
# workers still starting and hand the burst to the others.
ready_r, ready_w = os.pipe()
for i in range(workers):
    pid = os.fork()
    if pid == 0:
        logf = open(f"{out}.w{i}.log", "w")
        os.dup2(logf.fileno(), 2)
        tornado.log.enable_pretty_logging(); logging.getLogger('tornado.access').setLevel(logging.WARNING)
        if mode == "post-fork":
            tornado.ioloop.IOLoop.clear_instance(); tornado.ioloop.IOLoop.clear_current()
            loop = tornado.ioloop.IOLoop.current()
            loop._impl = EpollSpy(loop._impl)
            server = Server(app); server.add_sockets(socks)
        loop = tornado.ioloop.IOLoop.current()
        def dump(*_):
            t = os.times()
            stats["cpu_s"] = t.user + t.system
            if phases: stats["phases"] = phases()
            with open(f"{out}.w{i}.json", "w") as f: json.dump(stats, f)
            os._exit(0)
        signal.signal(signal.SIGTERM, dump)  # not through the loop: its waker pipe is shared pre-fork
        def at1s():
            stats["split_at_1s"] = stats["accepts"]
        loop.call_later(1.0, at1s)
        def loop_running():
            os.write(ready_w, b"r")
            os.close(ready_w)  # so that the parent sees the end of the pipe if a sibling dies first
        loop.add_callback(loop_running)
        loop.start()
        os._exit(0)
    kids.append(pid)
signal.signal(signal.SIGTERM, lambda *a: [os.kill(k, signal.SIGTERM) for k in kids])
os.close(ready_w)
got = 0
while got < workers:
    b = os.read(ready_r, workers - got)
    if not b: sys.exit("a worker exited before its loop ran")
    got += len(b)
print("READY", bound, flush=True)
for k in kids:
    while True:
        try: os.waitpid(k, 0); break
        except InterruptedError: continue
