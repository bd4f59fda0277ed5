"""Counters for a real Tornado server, in the shape of the forklab engine's (native/counters.h).

Loaded by the app before Tornado serves anything; Tornado itself is unchanged. It wraps, at the
exact place each thing happens:

- the epoll object inside every ``selectors.EpollSelector``: each ``poll()`` that returns is a
  loop pass, each (fd, mask) it returns an epoll event, and an event whose fd has no key in the
  selector's ``_fd_to_key`` is counted as ``unknown_fd_events``: that is the lookup
  ``EpollSelector.select()`` makes right after ``poll()`` and skips silently (asyncio's form of
  Tornado 4's ``KeyError``). A ``register()`` that fails with EEXIST is counted too;
- ``socket.socket.accept``: accept4 calls by result;
- ``tornado.web.Application.log_request``: called once per finished request, with its status;
- ``tornado.httpserver.HTTPServer.handle_stream`` / ``on_close``: connections opened and closed.

The counters live in one anonymous MAP_SHARED mapping made by the parent before it forks; each
worker owns one slot (cache-line aligned, u64 fields) and is its only writer; the parent reads them.
Nothing is counted in a process that has no slot (the parent).
"""

import errno
import mmap
import os
import resource
import selectors
import socket
import time

# (name, kind, meaning): the meaning is the engine's where the field has the same definition.
FIELDS = (
    ("loop_passes", "counter", "epoll_wait calls that returned (one pass of the loop each)"),
    ("epoll_events", "counter", "events epoll_wait returned, before merging into the pending map"),
    ("events_dispatched", "counter", "events epoll_wait returned whose fd had a selector key"),
    ("unknown_fd_events", "counter", "asyncio: popped events whose fd had no handler (skipped)"),
    ("accepts_ok", "counter", "accept4 calls that returned a connection to serve"),
    ("accept_eagain", "counter", "accept4 calls that failed with EAGAIN (nothing to accept)"),
    ("accept_econnaborted", "counter", "accept4 calls that failed with ECONNABORTED (skipped)"),
    ("accept_emfile", "counter", "accept4 calls that failed with EMFILE or ENFILE"),
    ("accept_errors", "counter", "accept4 calls that failed with any other error"),
    ("requests", "counter", "requests finished by the application (Application.log_request)"),
    ("responses_200", "counter", "responses fully written with status 200"),
    ("responses_400", "counter", "responses fully written with status 400"),
    ("responses_404", "counter", "responses fully written with status 404"),
    ("responses_405", "counter", "responses fully written with status 405"),
    ("responses_other", "counter", "responses finished with any other status"),
    ("epoll_ctl_eexist", "counter", "epoll_ctl calls that failed with EEXIST"),
    ("connections_opened", "counter", "connections given a handler"),
    ("connections_closed", "counter", "connections closed by the worker"),
    ("nvcsw", "counter", "voluntary context switches (getrusage in the worker)"),
    ("nivcsw", "counter", "involuntary context switches (getrusage in the worker)"),
    ("utime_us", "counter", "user CPU time in microseconds (getrusage in the worker)"),
    ("stime_us", "counter", "system CPU time in microseconds (getrusage in the worker)"),
    ("open_connections", "gauge", "connections open now"),
    ("pid", "gauge", "pid of the running incarnation once it is set up, 0 otherwise"),
    ("started_at_ms", "gauge", "unix time in ms when the running incarnation started"),
)
INDEX = {name: i for i, (name, _, _) in enumerate(FIELDS)}
# Slots padded to whole cache lines so that two workers never write the same line.
STRIDE = ((len(FIELDS) * 8 + 63) // 64) * 64 // 8

_STATUS_FIELD = {200: "responses_200", 400: "responses_400", 404: "responses_404",
                 405: "responses_405"}


class SharedSlots:
    """The mapping: one slot of STRIDE u64 per worker. Make it before forking."""

    def __init__(self, workers):
        assert workers >= 1
        self.workers = workers
        self._map = mmap.mmap(-1, workers * STRIDE * 8, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
        self._u64 = memoryview(self._map).cast("Q")

    def read(self):
        """A copy of every slot: a list per worker of {field: value}."""
        copy = self._u64.tolist()
        return [
            {name: copy[w * STRIDE + i] for i, (name, _, _) in enumerate(FIELDS)}
            for w in range(self.workers)
        ]

    def slot(self, index):
        assert 0 <= index < self.workers
        return self._u64[index * STRIDE:(index + 1) * STRIDE]


_slot = None  # this worker's slot (a memoryview of u64), None in the parent


def _add(field, n=1):
    if _slot is not None:
        i = INDEX[field]
        _slot[i] += n


def _set(field, value):
    if _slot is not None:
        _slot[INDEX[field]] = value


def become_worker(slots, index):
    """Called in a worker right after fork: from now on this process counts into slot `index`."""
    global _slot
    _slot = slots.slot(index)
    _set("started_at_ms", int(time.time() * 1000))


def mark_set_up():
    """The worker serves: publish its pid (the parent's health check waits for it)."""
    _set("pid", os.getpid())


def publish_rusage():
    """getrusage(RUSAGE_SELF) into the slot (cumulative for this process; one incarnation a slot)."""
    if _slot is None:
        return
    r = resource.getrusage(resource.RUSAGE_SELF)
    _set("nvcsw", r.ru_nvcsw)
    _set("nivcsw", r.ru_nivcsw)
    _set("utime_us", int(r.ru_utime * 1e6))
    _set("stime_us", int(r.ru_stime * 1e6))


class _CountingEpoll:
    """Stands in for a selector's ``select.epoll`` object; forwards every call to it."""

    __slots__ = ("_epoll", "_keys")

    def __init__(self, epoll, keys):
        self._epoll = epoll
        self._keys = keys  # the selector's _fd_to_key: the dict select() looks each fd up in

    def poll(self, timeout=-1, maxevents=-1):
        events = self._epoll.poll(timeout, maxevents)
        if _slot is not None:
            keys = self._keys
            unknown = 0
            for fd, _ in events:
                if fd not in keys:
                    unknown += 1
            _slot[0] += 1  # loop_passes
            _slot[1] += len(events)  # epoll_events
            _slot[2] += len(events) - unknown  # events_dispatched
            _slot[3] += unknown  # unknown_fd_events
        return events

    def register(self, fd, eventmask):
        try:
            return self._epoll.register(fd, eventmask)
        except OSError as e:
            if e.errno == errno.EEXIST:
                _add("epoll_ctl_eexist")
            raise

    def __getattr__(self, name):
        return getattr(self._epoll, name)


assert [INDEX[f] for f in ("loop_passes", "epoll_events", "events_dispatched",
                           "unknown_fd_events")] == [0, 1, 2, 3]

_installed = False


def install():
    """Wraps the places named in the module's docstring. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True

    orig_init = selectors.EpollSelector.__init__

    def init(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        self._selector = _CountingEpoll(self._selector, self._fd_to_key)

    selectors.EpollSelector.__init__ = init

    orig_accept = socket.socket.accept

    def accept(self):
        try:
            conn = orig_accept(self)
        except BlockingIOError:
            _add("accept_eagain")
            raise
        except ConnectionAbortedError:
            _add("accept_econnaborted")
            raise
        except OSError as e:
            _add("accept_emfile" if e.errno in (errno.EMFILE, errno.ENFILE) else "accept_errors")
            raise
        _add("accepts_ok")
        return conn

    socket.socket.accept = accept

    import tornado.httpserver
    import tornado.web

    orig_log_request = tornado.web.Application.log_request

    def log_request(self, handler):
        _add("requests")
        _add(_STATUS_FIELD.get(handler.get_status(), "responses_other"))
        return orig_log_request(self, handler)

    tornado.web.Application.log_request = log_request

    orig_handle_stream = tornado.httpserver.HTTPServer.handle_stream
    orig_on_close = tornado.httpserver.HTTPServer.on_close

    def handle_stream(self, stream, address):
        _add("connections_opened")
        _add("open_connections")
        return orig_handle_stream(self, stream, address)

    def on_close(self, server_conn):
        _add("connections_closed")
        _add("open_connections", -1)
        return orig_on_close(self, server_conn)

    tornado.httpserver.HTTPServer.handle_stream = handle_stream
    tornado.httpserver.HTTPServer.on_close = on_close
