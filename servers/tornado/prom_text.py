"""Prometheus text exposition of a snapshot, with the families and labels of the engine's
(lab/server/metrics.ts FIELD_METRICS): the lab's dashboards query the same series for Tornado.
A test checks every series here against that table."""

import forklab_instrument as instrument

# field -> (metric, extra labels, scale); fields not listed are not exported.
FIELD_METRICS = {
    "loop_passes": ("forklab_loop_passes_total", {}, 1),
    "epoll_events": ("forklab_epoll_events_total", {}, 1),
    "events_dispatched": ("forklab_events_dispatched_total", {}, 1),
    "unknown_fd_events": ("forklab_unknown_fd_events_total", {}, 1),
    "accepts_ok": ("forklab_accepts_total", {"result": "ok"}, 1),
    "accept_eagain": ("forklab_accepts_total", {"result": "eagain"}, 1),
    "accept_econnaborted": ("forklab_accepts_total", {"result": "econnaborted"}, 1),
    "accept_emfile": ("forklab_accepts_total", {"result": "emfile"}, 1),
    "accept_errors": ("forklab_accepts_total", {"result": "error"}, 1),
    "requests": ("forklab_requests_total", {}, 1),
    "responses_200": ("forklab_responses_total", {"status": "200"}, 1),
    "responses_400": ("forklab_responses_total", {"status": "400"}, 1),
    "responses_404": ("forklab_responses_total", {"status": "404"}, 1),
    "responses_405": ("forklab_responses_total", {"status": "405"}, 1),
    "epoll_ctl_eexist": ("forklab_epoll_ctl_eexist_total", {}, 1),
    "connections_opened": ("forklab_connections_opened_total", {}, 1),
    "connections_closed": ("forklab_connections_closed_total", {}, 1),
    "nvcsw": ("forklab_context_switches_total", {"kind": "voluntary"}, 1),
    "nivcsw": ("forklab_context_switches_total", {"kind": "involuntary"}, 1),
    "utime_us": ("forklab_cpu_seconds_total", {"mode": "user"}, 1e-6),
    "stime_us": ("forklab_cpu_seconds_total", {"mode": "system"}, 1e-6),
    "open_connections": ("forklab_open_connections", {}, 1),
    "pid": ("forklab_worker_pid", {}, 1),
    "started_at_ms": ("forklab_worker_started_seconds", {}, 1e-3),
}

_MEANING = {name: meaning for name, _, meaning in instrument.FIELDS}
_KIND = {name: kind for name, kind, _ in instrument.FIELDS}


def _labels(d):
    return "{" + ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"'))
                          for k, v in d.items()) + "}"


def _num(v):
    return repr(float(v)) if isinstance(v, float) else str(v)


def render(snap):
    families = {}  # metric -> (type, help, [lines])
    for field, (metric, extra, scale) in FIELD_METRICS.items():
        kind = "counter" if _KIND[field] == "counter" else "gauge"
        fam = families.setdefault(metric, (kind, _MEANING[field], []))
        for w in snap["workers"]:
            value = w["counters"].get(field, 0) * scale
            fam[2].append("%s%s %s" % (metric, _labels({"worker": str(w["index"]), **extra}),
                                       _num(value)))
    workers = snap["workers"]
    families["forklab_worker_up"] = ("gauge", "worker process running (1) or not (0)", [
        'forklab_worker_up{worker="%d"} %d' % (w["index"], 1 if w["up"] else 0) for w in workers])
    families["forklab_worker_failed"] = ("gauge", "the worker exited and is not restarted: 1", [
        'forklab_worker_failed{worker="%d"} %d' % (w["index"], 1 if w["failed"] else 0)
        for w in workers])
    families["forklab_worker_exits_total"] = ("counter", "worker exits seen by the parent, by reason", [
        'forklab_worker_exits_total{worker="%d",reason="%s"} %d' % (w["index"], r, n)
        for w in workers for r, n in w["exits"].items()])
    cfg = snap["config"]
    info = {
        "name": snap["name"], "loop_creation": cfg["loopCreation"], "flavour": cfg["flavour"],
        "trigger": cfg["trigger"], "exclusive": str(cfg["exclusive"]).lower(),
        "reuseport": str(cfg["reusePort"]).lower(), "workers": str(cfg["workers"]),
        "accept_batch": str(_accept_batch()), "max_requests": "0", "port": str(snap["port"]),
        "engine_version": snap["engineVersion"],
    }
    families["forklab_server_info"] = (
        "gauge", "the configuration of this server, in labels (value always 1)",
        ["forklab_server_info%s 1" % _labels(info)])
    out = []
    for metric, (kind, help_text, lines) in families.items():
        out.append("# HELP %s %s" % (metric, help_text))
        out.append("# TYPE %s %s" % (metric, kind))
        out.extend(lines)
    return "\n".join(out) + "\n"


def _accept_batch():
    import tornado.netutil

    return getattr(tornado.netutil, "_DEFAULT_BACKLOG", 0)
