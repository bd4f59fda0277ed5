// A brief libFuzzer run of the request-head parser with ASan and UBSan (scripts/fuzz.sh): the
// committed seeds and 30 s of mutations must break no invariant of fuzz/http_parser_fuzz.cc.
// Needs clang (scripts/setup.sh installs it).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

test('30 s of fuzzing the HTTP parser finds nothing', () => {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'fuzz.sh'), '30'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 110_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status === 2 && /not found; install clang/.test(out)) {
    throw new Error(out.trim());
  }
  const runs = Number(/^Done (\d+) runs/m.exec(out)?.[1] ?? 0);
  if (r.status !== 0)
    throw new Error(`fuzz.sh exited ${r.status ?? r.signal}:\n${out.slice(-4000)}`);
  // Seeds alone are a dozen runs; a working fuzzer does thousands a second.
  expect(runs).toBeGreaterThan(10_000);
}, 120_000);
