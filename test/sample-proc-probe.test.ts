// The generic per-worker probes read from /proc agree with what a process says of itself
// (getrusage in the process), and find the connections it holds.
import { spawn } from 'node:child_process';
import net from 'node:net';
import {
  establishedInodes,
  openConnections,
  parseStat,
  parseStatus,
  probeProcess,
} from '../lab/sample/proc-probe';

test('parseStat: utime and stime even when comm holds spaces and parentheses', () => {
  // Fields after "(comm)": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime stime …
  const line = '4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 52 0 0 20 0 1 0 99\n';
  expect(parseStat(line)).toEqual({ utimeTicks: 731, stimeTicks: 52 });
  expect(() => parseStat('garbage')).toThrow(/comm/);
});

test('parseStatus: both context-switch counts', () => {
  const text = 'Name:\tx\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n';
  expect(parseStatus(text)).toEqual({ nvcsw: 12, nivcsw: 3 });
  expect(() => parseStatus('Name:\tx\n')).toThrow(/voluntary_ctxt_switches/);
});

test('establishedInodes: only state 01 on the local port', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1',
    '   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 222 1',
    '   2: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 333 1',
    '   3: 0100007F:1F90 0100007F:D432 06 00000000:00000000 00:00000000 00000000     0        0 0 1',
  ].join('\n');
  expect([...establishedInodes(text, 0x1f90)]).toEqual(['222']);
});

test('probeProcess matches getrusage inside a single-threaded process', async () => {
  // The child burns some CPU and sleeps a few times, reports its own getrusage, then blocks.
  const py = spawn(
    '/usr/bin/python3',
    [
      '-c',
      [
        'import resource, sys, time',
        'end = time.process_time() + 0.2',
        'while time.process_time() < end: pass',
        'for _ in range(20): time.sleep(0.002)',
        'r = resource.getrusage(resource.RUSAGE_SELF)',
        'print(r.ru_nvcsw, r.ru_nivcsw, int(r.ru_utime * 1e6), int(r.ru_stime * 1e6), flush=True)',
        'sys.stdin.read()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const line = await new Promise<string>((resolve) => {
      let out = '';
      py.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out);
      });
    });
    const [nvcsw, , utimeUs, stimeUs] = line.trim().split(' ').map(Number);
    if (!Number.isFinite(stimeUs)) throw new Error(`child printed ${JSON.stringify(line)}`);
    await new Promise((r) => setTimeout(r, 100)); // it is blocked in read() by now
    const p = await probeProcess(py.pid!);
    expect(p).not.toBeNull();
    // Since its own reading it has only written one line and gone to sleep in read().
    expect(p!.nvcsw).toBeGreaterThanOrEqual(nvcsw!);
    expect(p!.nvcsw).toBeLessThanOrEqual(nvcsw! + 3);
    expect(nvcsw!).toBeGreaterThanOrEqual(20);
    // /proc counts CPU in clock ticks (10 ms each at CLK_TCK 100).
    expect(Math.abs(p!.utime_us - utimeUs!)).toBeLessThanOrEqual(20_000);
    expect(Math.abs(p!.stime_us - stimeUs!)).toBeLessThanOrEqual(20_000);
    // It burnt 0.2 s of CPU (user and system together) before its reading.
    expect(p!.utime_us + p!.stime_us).toBeGreaterThanOrEqual(170_000);
  } finally {
    py.kill('SIGKILL');
  }
  expect(await probeProcess(999_999_999)).toBeNull();
});

test('openConnections counts the accepted sockets this process holds on a port', async () => {
  const held: net.Socket[] = [];
  const server = net.createServer((s) => held.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const clients = await Promise.all(
    [1, 2, 3].map(
      () =>
        new Promise<net.Socket>((resolve) => {
          const c = net.connect(port, '127.0.0.1', () => resolve(c));
        }),
    ),
  );
  try {
    for (let i = 0; i < 100 && held.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    // This process holds both ends; only the server ends have the local port `port`.
    expect(await openConnections(process.pid, port)).toBe(3);
  } finally {
    for (const c of [...clients, ...held]) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
