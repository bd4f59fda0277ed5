import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { register } from 'prom-client';
import { Engine, type CounterLayout, type FieldKind } from '../lab/native/engine';
import { validateServeConfig } from '../lab/server/config';
import {
  FIELD_METRICS,
  createMetrics,
  type MetricsSource,
  type ServerInfo,
} from '../lab/server/metrics';
import { newWorkerStatus, type WorkerStatus } from '../lab/server/restart-policy';
import { engineConfigOf } from '../lab/server/supervisor';

const root = path.resolve(__dirname, '..');
const addonBuilt = existsSync(path.join(root, 'build', 'Release', 'forklab.node'));

/** The X-macro of native/counters.h: name, kind and meaning of every field, in slot order. */
function headerFields(): { name: string; kind: FieldKind; meaning: string }[] {
  const text = readFileSync(path.join(root, 'native', 'counters.h'), 'utf8');
  const out: { name: string; kind: FieldKind; meaning: string }[] = [];
  for (const m of text.matchAll(
    /\bX\((\w+),\s*(counter|gauge|internal),\s*"((?:[^"\\]|\\.)*)"\)/g,
  )) {
    out.push({ name: m[1]!, kind: m[2] as FieldKind, meaning: m[3]! });
  }
  return out;
}

function layoutOf(fields: { name: string; kind: FieldKind }[], slots: number): CounterLayout {
  return {
    fields: fields.map((f) => f.name),
    kinds: fields.map((f) => f.kind),
    stride: Math.ceil((fields.length * 8) / 64) * 8,
    slots,
  };
}

const info: ServerInfo = {
  name: 'post-fork-tornado4',
  loop_creation: 'post-fork',
  flavour: 'tornado4',
  trigger: 'level',
  exclusive: 'false',
  reuseport: 'false',
  workers: '2',
  accept_batch: '128',
  max_requests: '0',
  pace: 'native',
  port: '8080',
  engine_version: 'test',
};

/** A fake engine: every field of worker w at offset f holds (w + 1) * 1000 + f. */
function fakeSource(
  layout: CounterLayout,
  status: WorkerStatus[],
): MetricsSource & { reads: number; array: BigUint64Array } {
  const array = new BigUint64Array(layout.stride * layout.slots);
  for (let w = 0; w < layout.slots; w++) {
    layout.fields.forEach((_, f) => (array[w * layout.stride + f] = BigInt((w + 1) * 1000 + f)));
  }
  const src = {
    reads: 0,
    array,
    layout,
    counters() {
      src.reads++;
      return array;
    },
    workers: layout.slots,
    status: () => status,
    info,
  };
  return src;
}

/** `name{labels} value` lines of an exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('the field table', () => {
  const header = headerFields();

  test('the header parses (sanity)', () => {
    expect(header.length).toBeGreaterThan(30);
    expect(header[0]).toEqual({
      name: 'loop_passes',
      kind: 'counter',
      meaning: 'epoll_wait calls that returned (one pass of the loop each)',
    });
  });

  test('every field of native/counters.h has an entry with its kind and meaning, in order', () => {
    expect(Object.keys(FIELD_METRICS)).toEqual(header.map((f) => f.name));
    for (const f of header) {
      expect({
        field: f.name,
        kind: FIELD_METRICS[f.name]?.kind,
        meaning: FIELD_METRICS[f.name]?.meaning,
      }).toEqual({
        field: f.name,
        kind: f.kind,
        meaning: f.meaning,
      });
    }
  });

  test('internal fields have no metric; the others have a forklab_ metric, counters end in _total', () => {
    for (const [field, m] of Object.entries(FIELD_METRICS)) {
      if (m.kind === 'internal')
        expect({ field, metric: m.metric }).toEqual({ field, metric: undefined });
      else
        expect(m.metric).toMatch(
          m.kind === 'counter' ? /^forklab_[a-z_]+_total$/ : /^forklab_[a-z_]+(?<!_total)$/,
        );
    }
  });

  (addonBuilt ? test : test.skip)(
    'every field of the built engine’s layout has an entry with its kind',
    () => {
      const engine = new Engine(
        engineConfigOf(validateServeConfig({ port: 0, workers: 1 }).config!),
      );
      try {
        const missing = engine.layout.fields.filter(
          (f, i) => FIELD_METRICS[f]?.kind !== engine.layout.kinds[i],
        );
        expect(missing).toEqual([]);
        expect(engine.layout.fields).toEqual(Object.keys(FIELD_METRICS));
      } finally {
        engine.close();
      }
    },
  );
});

describe('rendering', () => {
  const header = headerFields();
  const layout = layoutOf(header, 2);
  const off = (field: string): number => layout.fields.indexOf(field);
  const val = (w: number, field: string): number => (w + 1) * 1000 + off(field);

  async function render(status: WorkerStatus[] = [newWorkerStatus(0), newWorkerStatus(1)]) {
    const src = fakeSource(layout, status);
    const m = createMetrics(src);
    const text = await m.render();
    return { text, s: samples(text), src, m };
  }

  test('plain counters become forklab_<field>_total per worker', async () => {
    const { s } = await render();
    for (const w of [0, 1]) {
      expect(s.get(`forklab_keyerrors_total{worker="${w}"}`)).toBe(val(w, 'keyerrors'));
      expect(s.get(`forklab_loop_passes_total{worker="${w}"}`)).toBe(val(w, 'loop_passes'));
      expect(s.get(`forklab_requests_total{worker="${w}"}`)).toBe(val(w, 'requests'));
      expect(s.get(`forklab_stuck_detected_total{worker="${w}"}`)).toBe(val(w, 'stuck_detected'));
    }
  });

  test('grouped families: accepts by result, responses by status, context switches, CPU, bytes', async () => {
    const { s } = await render();
    const w = 1;
    expect(s.get(`forklab_accepts_total{worker="1",result="ok"}`)).toBe(val(w, 'accepts_ok'));
    expect(s.get(`forklab_accepts_total{worker="1",result="eagain"}`)).toBe(
      val(w, 'accept_eagain'),
    );
    expect(s.get(`forklab_accepts_total{worker="1",result="econnaborted"}`)).toBe(
      val(w, 'accept_econnaborted'),
    );
    expect(s.get(`forklab_accepts_total{worker="1",result="emfile"}`)).toBe(
      val(w, 'accept_emfile'),
    );
    expect(s.get(`forklab_accepts_total{worker="1",result="error"}`)).toBe(val(w, 'accept_errors'));
    for (const status of ['200', '400', '404', '405', '431', '501']) {
      expect(s.get(`forklab_responses_total{worker="1",status="${status}"}`)).toBe(
        val(w, `responses_${status}`),
      );
    }
    expect(s.get(`forklab_context_switches_total{worker="1",kind="voluntary"}`)).toBe(
      val(w, 'nvcsw'),
    );
    expect(s.get(`forklab_context_switches_total{worker="1",kind="involuntary"}`)).toBe(
      val(w, 'nivcsw'),
    );
    expect(s.get(`forklab_cpu_seconds_total{worker="1",mode="user"}`)).toBeCloseTo(
      val(w, 'utime_us') / 1e6,
      9,
    );
    expect(s.get(`forklab_cpu_seconds_total{worker="1",mode="system"}`)).toBeCloseTo(
      val(w, 'stime_us') / 1e6,
      9,
    );
    expect(s.get(`forklab_bytes_received_total{worker="1"}`)).toBe(val(w, 'bytes_in'));
    expect(s.get(`forklab_bytes_sent_total{worker="1"}`)).toBe(val(w, 'bytes_out'));
  });

  test('gauges', async () => {
    const { s } = await render();
    expect(s.get(`forklab_open_connections{worker="0"}`)).toBe(val(0, 'open_connections'));
    expect(s.get(`forklab_stuck_connections{worker="0"}`)).toBe(val(0, 'stuck_connections'));
    expect(s.get(`forklab_worker_pid{worker="0"}`)).toBe(val(0, 'pid'));
    expect(s.get(`forklab_worker_started_seconds{worker="0"}`)).toBeCloseTo(
      val(0, 'started_at_ms') / 1000,
      9,
    );
  });

  test('internal fields and ungrouped names of grouped fields are never exported', async () => {
    const { text } = await render();
    expect(text).not.toMatch(
      /pub_|nvcsw|utime|accepts_ok|accept_eagain|responses_200|bytes_in|started_at_ms/,
    );
  });

  test('each family has HELP (from counters.h) and TYPE once', async () => {
    const { text } = await render();
    expect(text).toContain(
      '# HELP forklab_keyerrors_total tornado4: popped events whose fd had no handler (KeyError raised)\n',
    );
    expect(text).toContain('# TYPE forklab_keyerrors_total counter\n');
    expect(text).toContain('# TYPE forklab_accepts_total counter\n');
    expect(text).toContain('# TYPE forklab_open_connections gauge\n');
    expect(text).toContain('# HELP forklab_open_connections connections open now\n');
    const helps = text
      .split('\n')
      .filter((l) => l.startsWith('# HELP '))
      .map((l) => l.split(' ')[2]);
    expect(new Set(helps).size).toBe(helps.length);
    for (const h of helps) expect(h).toMatch(/^forklab_/);
  });

  test('supervisor metrics: up, failed, restarts and exits by reason (all reasons, zeros included)', async () => {
    const w0 = newWorkerStatus(0);
    w0.pid = 4242;
    w0.restarts.crash = 2;
    w0.restarts.cycled = 5;
    w0.exits.signal = 2;
    w0.exits.cycled = 5;
    const w1 = newWorkerStatus(1);
    w1.failed = true;
    w1.exits.eexist = 1;
    const { s } = await render([w0, w1]);
    expect(s.get('forklab_worker_up{worker="0"}')).toBe(1);
    expect(s.get('forklab_worker_up{worker="1"}')).toBe(0);
    expect(s.get('forklab_worker_failed{worker="0"}')).toBe(0);
    expect(s.get('forklab_worker_failed{worker="1"}')).toBe(1);
    expect(s.get('forklab_worker_restarts_total{worker="0",reason="crash"}')).toBe(2);
    expect(s.get('forklab_worker_restarts_total{worker="0",reason="cycled"}')).toBe(5);
    expect(s.get('forklab_worker_restarts_total{worker="1",reason="crash"}')).toBe(0);
    for (const reason of ['clean', 'cycled', 'eexist', 'startup_failed', 'crash', 'signal']) {
      expect(s.has(`forklab_worker_exits_total{worker="0",reason="${reason}"}`)).toBe(true);
      expect(s.has(`forklab_worker_exits_total{worker="1",reason="${reason}"}`)).toBe(true);
    }
    expect(s.get('forklab_worker_exits_total{worker="0",reason="signal"}')).toBe(2);
    expect(s.get('forklab_worker_exits_total{worker="1",reason="eexist"}')).toBe(1);
  });

  test('forklab_server_info carries the configuration in labels', async () => {
    const { s } = await render();
    expect(
      s.get(
        'forklab_server_info{name="post-fork-tornado4",loop_creation="post-fork",flavour="tornado4",trigger="level",exclusive="false",reuseport="false",workers="2",accept_batch="128",max_requests="0",pace="native",port="8080",engine_version="test"}',
      ),
    ).toBe(1);
  });

  test('values are read at scrape time, from one copy of the counters per scrape', async () => {
    const src = fakeSource(layout, [newWorkerStatus(0), newWorkerStatus(1)]);
    const m = createMetrics(src);
    await m.render();
    expect(src.reads).toBe(1);
    src.array[off('requests')] = 77n;
    expect(samples(await m.render()).get('forklab_requests_total{worker="0"}')).toBe(77);
    expect(src.reads).toBe(2);
  });

  test('the registry is not the global one, and two servers do not clash', async () => {
    const a = createMetrics(fakeSource(layout, []));
    const b = createMetrics(fakeSource(layout, []));
    expect(a.registry).not.toBe(register);
    expect(a.registry).not.toBe(b.registry);
    expect(await register.metrics()).not.toContain('forklab_');
    expect(a.contentType).toMatch(/^text\/plain/);
  });

  test('a field the table does not know is still exported under its own name', async () => {
    const extra = layoutOf(
      [
        ...header,
        { name: 'new_thing', kind: 'counter' },
        { name: 'new_level', kind: 'gauge' },
        { name: 'responses_503', kind: 'counter' },
      ],
      1,
    );
    const src = fakeSource(extra, [newWorkerStatus(0)]);
    const s = samples(await createMetrics(src).render());
    expect(s.get('forklab_new_thing_total{worker="0"}')).toBe(
      1000 + extra.fields.indexOf('new_thing'),
    );
    expect(s.get('forklab_new_level{worker="0"}')).toBe(1000 + extra.fields.indexOf('new_level'));
    expect(s.get('forklab_responses_total{worker="0",status="503"}')).toBe(
      1000 + extra.fields.indexOf('responses_503'),
    );
  });
});
