"""Times the first connection of a freshly forked Tornado worker against its later ones.

Run by scripts/calibrate.ts (npm run calibrate); not a server of the lab.

    python3 cold_start.py [TORNADO45_DIR]

With a directory holding Tornado 4.5.3's `tornado` package, the parent creates the IOLoop and the
HTTPServer and adds the listening socket before it forks (the lab's pre-fork), as a Tornado 4.5
pre-fork server does; without, the installed Tornado (Debian's 6.2) is forked after binding and
the child creates its asyncio loop and server (Tornado 5+ cannot share a loop over fork). The
parent then opens connections one after the other and reads the child's CPU time from
/proc/<pid>/schedstat (nanoseconds on CPU) before each connection and after it closed:

1. one probe: connected and closed without a request, as wrk's first connection (it only checks
   the address) is: the connection path run for the first time (accept, IOStream, HTTP
   connection, close);
2. REQUESTS connections each sending one request (`Connection: close`, sent at once, the response
   read to its end): the first runs the request path for the first time;
3. WARM more probes.

The cold start splits in two: `coldConnection` = the first probe − the median of the last WARM
probes, `coldRequest` = the first request's connection − the median of the last WARM requests'.
Prints one JSON object with both, `cold` (their sum), the raw figures, the child's minor page
faults over the probe and over the first request, and the versions, for ROUNDS fresh children
(medians).

Why: a forked Python worker's first connection runs code paths the parent never ran; every object
it touches is written by reference counting and specialisation, so each touched page is copied
(copy-on-write) and the interpreter warms up. Measured here: 17–22 ms of CPU and ~680 page faults
for the first connection with a request of a Tornado 4.5.3 worker, against ~0.7 ms once warm; a
first connection without a request costs 8–12 ms, the first request after it another 8–12 ms.
While the first workers to wake sit in that path, a pre-forked server's burst of connections goes
to whichever worker comes out of it first; a worker whose first connection was wrk's probe has
run only the connection's part when the burst comes.
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

REQUESTS = 12
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

        def timed(connection):
            c0, f0 = cpu_ns(pid), minor_faults(pid)
            connection()
            time.sleep(SETTLE_S)
            return (cpu_ns(pid) - c0) / 1000, minor_faults(pid) - f0

        def probe():
            socket.create_connection(("127.0.0.1", port)).close()

        def request():
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

        first_probe = timed(probe)
        requests = [timed(request) for _ in range(REQUESTS)]
        probes = [timed(probe) for _ in range(WARM)]
        return first_probe, requests, probes, tornado.version
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
        first_probe, requests, probes, version = one_child(tornado45_dir)
        rounds.append(
            {
                "requests": [round(us) for us, _ in requests],
                "probes": [round(first_probe[0])] + [round(us) for us, _ in probes],
                "firstProbe": first_probe[0],
                "warmProbe": median([us for us, _ in probes]),
                "firstRequest": requests[0][0],
                "warmRequest": median([us for us, _ in requests[-WARM:]]),
                "probeFaults": first_probe[1],
                "firstRequestFaults": requests[0][1],
            }
        )
    if tornado45_dir and version != "4.5.3":
        sys.exit(f"{tornado45_dir}: tornado {version}, not 4.5.3")
    med = {k: median([r[k] for r in rounds]) for k in rounds[0] if not isinstance(rounds[0][k], list)}
    cold_connection = med["firstProbe"] - med["warmProbe"]
    cold_request = med["firstRequest"] - med["warmRequest"]
    print(
        json.dumps(
            {
                "coldConnection": cold_connection,
                "coldRequest": cold_request,
                "cold": cold_connection + cold_request,
                **med,
                "rounds": rounds,
                "python": platform.python_version(),
                "tornado": version,
                "loop": "created before fork" if tornado45_dir else "created after fork",
            }
        )
    )


if __name__ == "__main__":
    main()
