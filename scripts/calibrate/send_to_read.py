"""Times where a real Tornado worker spends a keep-alive request's CPU: before its response's send,
and after the send up to its next read of the connection.

Run by scripts/calibrate.ts (npm run calibrate); not a server of the lab.

    python3 send_to_read.py [TORNADO45_DIR]

Serves "Hello, world" on 127.0.0.1 (a free port) in one process: Tornado 4.5.3 from TORNADO45_DIR,
else the installed Tornado (Debian's 6.2). Prints `READY <port>` once listening; on SIGTERM prints
one JSON object and exits. Load it with one keep-alive client (`wrk -t1 -c1`), so that nothing runs
in the worker between a response and that connection's next read but what Tornado does for it.

IOStream.read_from_fd and IOStream.write_to_fd are wrapped. Per connection, time.thread_time()
(this thread's CPU, so a preemption does not count) is read when a read returns data (a request),
when its response is about to be sent and when the send has returned, and when the next read of
the connection is called. Prints, in µs: `before` (the read that brought the request → the send)
and `after` (the send → the next read call): medians with p10 and p90; `hits`, the next reads
that found the next request already there, and `misses`; `n`; the versions.

Why: in Tornado the send does not end a request's work. After it come the rest of
RequestHandler.finish, the request coroutines' ends, a pass of the loop (gen.moment in 4.5,
asyncio.sleep(0) in 6.x), the next HTTP1Connection and read_until_regex up to the recv. A client
that answers within that time has its next request waiting when the worker reads.
"""
import collections
import collections.abc
import json
import os
import platform
import signal
import sys
import time

for _name in ("MutableMapping", "Mapping", "Sequence", "Callable", "MutableSet", "Iterable"):
    setattr(collections, _name, getattr(collections.abc, _name))

MIN_SAMPLES = 100


def quantile(xs, q):
    s = sorted(xs)
    return s[int(q * (len(s) - 1))]


def main():
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])
    import tornado
    import tornado.httpserver
    import tornado.ioloop
    import tornado.iostream
    import tornado.netutil
    import tornado.web

    if len(sys.argv) > 1 and tornado.version != "4.5.3":
        sys.exit(f"{sys.argv[1]}: tornado {tornado.version}, not 4.5.3")

    before, after = [], []
    counts = {"hits": 0, "misses": 0}
    got_at, sent_at = {}, {}
    read_from_fd = tornado.iostream.IOStream.read_from_fd
    write_to_fd = tornado.iostream.IOStream.write_to_fd

    def timed_read(self, *args):
        fd = self.socket.fileno()
        called = time.thread_time()
        sent = sent_at.pop(fd, None)
        r = read_from_fd(self, *args)  # 4.5: the bytes or None; 6.x: a count, 0 or None
        if sent is not None:
            after.append(called - sent)
            counts["hits" if r else "misses"] += 1
        if r:
            got_at[fd] = time.thread_time()
        return r

    def timed_write(self, data):
        fd = self.socket.fileno()
        sending = time.thread_time()
        got = got_at.pop(fd, None)
        if got is not None:
            before.append(sending - got)
        r = write_to_fd(self, data)
        sent_at[fd] = time.thread_time()
        return r

    tornado.iostream.IOStream.read_from_fd = timed_read
    tornado.iostream.IOStream.write_to_fd = timed_write

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("Hello, world\n")

    def report(*_):
        if len(after) < MIN_SAMPLES or len(before) < MIN_SAMPLES:
            print(json.dumps({"error": f"{len(before)} and {len(after)} samples, want ≥ {MIN_SAMPLES}"}))
        else:
            us = lambda xs, q: round(1e6 * quantile(xs, q), 1)
            print(
                json.dumps(
                    {
                        "before": us(before, 0.5),
                        "beforeP10": us(before, 0.1),
                        "beforeP90": us(before, 0.9),
                        "after": us(after, 0.5),
                        "afterP10": us(after, 0.1),
                        "afterP90": us(after, 0.9),
                        **counts,
                        "n": len(after),
                        "python": platform.python_version(),
                        "tornado": tornado.version,
                    }
                ),
                flush=True,
            )
        os._exit(0)

    signal.signal(signal.SIGTERM, report)
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Hello)])).add_sockets(socks)
    loop = tornado.ioloop.IOLoop.current()
    loop.add_callback(lambda: print("READY", socks[0].getsockname()[1], flush=True))
    loop.start()


if __name__ == "__main__":
    main()
