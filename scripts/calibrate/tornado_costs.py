"""Times what the pace model burns, with Debian's Python and the real `tornado` package.

Run by scripts/calibrate.ts (npm run calibrate); not a server of the lab. Two modes:

  python3 tornado_costs.py micro
      prints one JSON object: CPU microseconds (time.process_time) per
      - keyerror: Tornado 4's handling of an event for an unknown fd: the lookup
        `self._handlers[fd]` raising KeyError and `app_log.error("Exception in callback %r",
        None, exc_info=True)`, formatted by tornado.log.LogFormatter and written to a file;
      - event: one event dispatched through a real Tornado IOLoop (asyncio underneath) to a
        handler added with add_handler, the pass around it included;
      - streamRead: an IOStream waiting for a request head handling a READ event whose recv finds
        nothing (what the connection's handler adds to every event);
      - skip: one pass of asyncio's loop whose epoll returns an fd the selector does not know
        (selectors' `_key_from_fd` gives None and the event is skipped);
      and the versions.

  python3 tornado_costs.py serve PORT
      a real Tornado HTTPServer answering "Hello, world" on 127.0.0.1:PORT, one process, its
      stderr logging as Tornado's own defaults; prints READY when listening.
"""
import asyncio
import json
import logging
import os
import platform
import socket
import sys
import time

import tornado
import tornado.ioloop
import tornado.iostream
import tornado.log
import tornado.web

ROUNDS = 5


def best_of(fn, n):
    """Median over ROUNDS of the CPU µs per call of fn() run n times."""
    per = []
    for _ in range(ROUNDS):
        t0 = time.process_time()
        fn(n)
        per.append((time.process_time() - t0) * 1e6 / n)
    per.sort()
    return per[len(per) // 2]


def keyerror_cost(n):
    log = logging.getLogger("tornado.application")
    log.propagate = False
    sink = open(os.devnull, "w")  # a file, as a worker's stderr redirected to a log file
    handler = logging.StreamHandler(sink)
    handler.setFormatter(tornado.log.LogFormatter(color=False))
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    handlers = {5: (None, None)}

    def run(count):
        for _ in range(count):
            fd = 7
            try:
                fd_obj, handler_func = handlers[fd]  # PollIOLoop.start, Tornado 4.5
            except Exception:
                # IOLoop.handle_callback_exception(self._handlers.get(fd))
                log.error("Exception in callback %r", handlers.get(fd), exc_info=True)

    us = best_of(run, n)
    sink.close()
    return us


def event_cost(n):
    loop = tornado.ioloop.IOLoop()
    r, w = socket.socketpair()
    w.send(b"x")  # never read: level-triggered, ready on every pass
    state = {"left": 0}

    def handler(fd, events):
        state["left"] -= 1
        if state["left"] == 0:
            loop.stop()

    loop.add_handler(r.fileno(), handler, tornado.ioloop.IOLoop.READ)

    def run(count):
        state["left"] = count
        loop.start()

    us = best_of(run, n)
    loop.remove_handler(r.fileno())
    loop.close()
    r.close()
    w.close()
    return us


def stream_read_cost(n):
    """An IOStream waiting for a request head handles a READ event whose recv finds nothing: what
    a connection's handler costs on top of the pass (the read path of every event; all of a
    spurious one)."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    loop = tornado.ioloop.IOLoop.current()
    r, w = socket.socketpair()
    stream = tornado.iostream.IOStream(r)
    future = stream.read_until_regex(b"\r?\n\r?\n")  # nothing there: registers for READ
    fd = r.fileno()

    def run(count):
        for _ in range(count):
            stream._handle_events(fd, tornado.ioloop.IOLoop.READ)

    us = best_of(run, n)
    assert not future.done()
    stream.close()
    w.close()
    loop.close(all_fds=True)
    return us


def skip_cost(n):
    loop = asyncio.new_event_loop()
    r, w = socket.socketpair()
    w.send(b"x")
    loop.add_reader(r.fileno(), lambda: None)
    # Forget the fd in the selector's map but leave it in epoll: what a worker sees of a sibling's
    # fd in a shared epoll instance.
    loop._selector._fd_to_key.pop(r.fileno())
    assert loop._selector.select(0) == []

    def run(count):
        for _ in range(count):
            loop._run_once()

    us = best_of(run, n)
    loop.close()
    r.close()
    w.close()
    return us


def micro():
    out = {
        "keyerror": keyerror_cost(5000),
        "event": event_cost(10000),
        "streamRead": stream_read_cost(20000),
        "skip": skip_cost(20000),
        "python": platform.python_version(),
        "pythonExecutable": sys.executable,
        "tornado": tornado.version,
    }
    print(json.dumps(out))


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world\n")


def serve(port):
    tornado.log.enable_pretty_logging()
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # no access log, as the engine
    app = tornado.web.Application([(r"/", Hello)])

    async def main():
        server = app.listen(port, address="127.0.0.1")
        print("READY", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "micro":
        micro()
    elif len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    else:
        sys.exit("usage: tornado_costs.py micro | serve PORT")
