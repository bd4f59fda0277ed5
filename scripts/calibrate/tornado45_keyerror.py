"""Times a KeyError in the frame Tornado 4.5 raises it in: the real PollIOLoop.start of v4.5.3.

Run by scripts/calibrate.ts (npm run calibrate) when TORNADO45 names a directory holding the
`tornado` package of tag v4.5.3; not a server of the lab.

    python3 tornado45_keyerror.py DIR

prints one JSON object: CPU microseconds (time.process_time) per loop pass whose epoll returns one
fd the loop has no handler for (`self._handlers[fd]` raises KeyError in PollIOLoop.start, which
logs it through IOLoop.handle_callback_exception: app_log.error("Exception in callback %r", None,
exc_info=True), formatted by Tornado's LogFormatter and written to a file as a worker's stderr
redirected to a log file is), minus a pass whose epoll returns nothing; medians of 5 rounds.

Why the frame matters: Python 3.11's traceback finds the failing instruction's source position by
walking the code object's position table up to it and reads the source line to mark it. In
PollIOLoop.start the lookup sits about halfway through a large function, so each logged traceback
costs about twice what the same logging call costs raised from a small function
(scripts/calibrate/tornado_costs.py micro measures that one).
"""
import collections
import collections.abc
import json
import os
import platform
import sys
import tempfile
import time

# Python 3.10 removed the collections aliases Tornado 4.5 imports.
for _name in ("MutableMapping", "Mapping", "Sequence", "Callable", "MutableSet", "Iterable"):
    setattr(collections, _name, getattr(collections.abc, _name))

ROUNDS = 5
PASSES = 5000
UNKNOWN_FD = 999_999  # never a handler's fd


def main(tornado_dir):
    sys.path.insert(0, tornado_dir)
    import tornado
    import tornado.ioloop
    import tornado.log

    if tornado.version != "4.5.3":
        sys.exit(f"{tornado_dir}: tornado {tornado.version}, not 4.5.3")
    log_file = tempfile.NamedTemporaryFile("w", prefix="forklab-keyerror45-", suffix=".log")
    saved_stderr = os.dup(2)
    os.dup2(log_file.fileno(), 2)
    tornado.log.enable_pretty_logging()  # as a worker does: stderr, Tornado's LogFormatter

    loop = tornado.ioloop.IOLoop()
    real_poll = loop._impl

    class ScriptedPoll:
        """The loop's epoll with scripted results: `events` on each of `left` passes, then stop."""

        def __init__(self):
            self.left = 0
            self.events = []

        def fileno(self):
            return real_poll.fileno()

        def close(self):
            real_poll.close()

        def register(self, fd, events):
            return real_poll.register(fd, events)

        def modify(self, fd, events):
            return real_poll.modify(fd, events)

        def unregister(self, fd):
            return real_poll.unregister(fd)

        def poll(self, timeout):
            if self.left == 0:
                loop.stop()
                return []
            self.left -= 1
            return list(self.events)

    scripted = ScriptedPoll()
    loop._impl = scripted

    def per_pass(events):
        scripted.events = events
        per = []
        for _ in range(ROUNDS):
            scripted.left = PASSES
            t0 = time.process_time()
            loop.start()
            per.append((time.process_time() - t0) * 1e6 / PASSES)
        per.sort()
        return per[len(per) // 2]

    empty = per_pass([])
    with_keyerror = per_pass([(UNKNOWN_FD, tornado.ioloop.IOLoop.READ)])
    os.dup2(saved_stderr, 2)
    log_file.flush()
    logged = open(log_file.name).read()
    log_file.close()
    if logged.count("KeyError: %d" % UNKNOWN_FD) != ROUNDS * PASSES:
        sys.exit(f"expected {ROUNDS * PASSES} logged KeyErrors, found {logged.count('KeyError')}")
    print(
        json.dumps(
            {
                "keyerror": with_keyerror - empty,
                "passWithKeyError": with_keyerror,
                "emptyPass": empty,
                "python": platform.python_version(),
                "pythonExecutable": sys.executable,
                "tornado": tornado.version,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tornado45_keyerror.py DIR (a directory holding Tornado 4.5.3's tornado package)")
    main(sys.argv[1])
