"""Times the first connection of a freshly forked Tornado worker against its later ones.

Run by scripts/calibrate.ts (npm run calibrate); not a server of the lab.

    python3 cold_start.py [TORNADO45_DIR]

With a directory holding Tornado 4.5.3's `tornado` package, the parent creates the IOLoop and the
HTTPServer and adds the listening socket before it forks (the lab's pre-fork), as a Tornado 4.5
pre-fork server does; without, the installed Tornado (Debian's 6.2) is forked after binding and
the child creates its asyncio loop and server (Tornado 5+ cannot share a loop over fork). The
parent then opens CONNECTIONS connections one after the other (`Connection: close`, the request
sent at once, the response read to its end) and reads the child's CPU time from
/proc/<pid>/schedstat (nanoseconds on CPU) before each connection and after it closed.

Prints one JSON object: the CPU µs of each connection, `first` (the first one), `warm` (the median
of the last WARM), `cold` = first − warm, the child's minor page faults over the first connection
and over all the later ones, and the versions, for ROUNDS fresh children (medians).

Why: a forked Python worker's first connection runs code paths the parent never ran; every object
it touches is written by reference counting and specialisation, so each touched page is copied
(copy-on-write) and the interpreter warms up. Measured here: 17–18 ms of CPU and ~640 page faults
for the first connection of a Tornado 4.5.3 worker, against ~0.3–0.5 ms once warm. While the
first workers to wake sit in that path, a pre-forked server's burst of connections goes to
whichever worker comes out of it first.
"""
import collections
import collections.abc
import json
import os
import platform
import socket
import sys
import time

for _name in ("MutableMapping", "Mapping", "Sequence", "Callable", "MutableSet", "Iterable"):
    setattr(collections, _name, getattr(collections.abc, _name))

CONNECTIONS = 12
WARM = 4
ROUNDS = 5
SETTLE_S = 0.02  # after a response: the child closes the connection and goes back to its poll


def cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def minor_faults(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def one_child(tornado45_dir):
    import tornado
    import tornado.httpserver
    import tornado.ioloop
    import tornado.netutil
    import tornado.web

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("Hello, world\n")

    app = tornado.web.Application([(r"/", Hello)])
    socks = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = socks[0].getsockname()[1]
    if tornado45_dir:
        loop = tornado.ioloop.IOLoop.current()
        tornado.httpserver.HTTPServer(app).add_sockets(socks)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        if tornado45_dir:
            loop.add_callback(lambda: os.write(ready_w, b"r"))
            loop.start()
        else:
            import asyncio

            async def serve():
                tornado.httpserver.HTTPServer(app).add_sockets(socks)
                os.write(ready_w, b"r")
                await asyncio.Event().wait()

            asyncio.run(serve())
        os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"r"
        time.sleep(0.1)  # the child is asleep in its poll
        per, faults = [], []
        for _ in range(CONNECTIONS):
            c0, f0 = cpu_ns(pid), minor_faults(pid)
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(b"GET / HTTP/1.1\r\nHost: calibrate\r\nConnection: close\r\n\r\n")
                got = b""
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            if b"Hello, world" not in got:
                sys.exit(f"unexpected response: {got[:200]!r}")
            time.sleep(SETTLE_S)
            per.append((cpu_ns(pid) - c0) / 1000)
            faults.append(minor_faults(pid) - f0)
        return per, faults, tornado.version
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        for s in socks:
            s.close()


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def main():
    tornado45_dir = sys.argv[1] if len(sys.argv) > 1 else None
    if tornado45_dir:
        sys.path.insert(0, tornado45_dir)
    rounds = []
    for _ in range(ROUNDS):
        per, faults, version = one_child(tornado45_dir)
        rounds.append(
            {
                "perConnection": [round(x) for x in per],
                "first": per[0],
                "warm": median(per[-WARM:]),
                "firstFaults": faults[0],
                "laterFaults": sum(faults[1:]),
            }
        )
    if tornado45_dir and version != "4.5.3":
        sys.exit(f"{tornado45_dir}: tornado {version}, not 4.5.3")
    first = median([r["first"] for r in rounds])
    warm = median([r["warm"] for r in rounds])
    print(
        json.dumps(
            {
                "cold": first - warm,
                "first": first,
                "warm": warm,
                "firstFaults": median([r["firstFaults"] for r in rounds]),
                "rounds": rounds,
                "python": platform.python_version(),
                "tornado": version,
                "loop": "created before fork" if tornado45_dir else "created after fork",
            }
        )
    )


if __name__ == "__main__":
    main()
