// The scenario's `isolation`: CPU lists, every error with its field, the CPUs this machine gives
// the lab, and the oversubscription warning per isolation mode (hand-made records).
import {
  allowedCpus,
  formatCpuList,
  parseCpuList,
  unavailableCpuErrors,
} from '../lab/scenario/isolation';
import { resolveScenario } from '../lab/scenario/resolve-scenario';
import { validateScenario } from '../lab/scenario/validate-scenario';
import { oversubscriptionTexts } from '../lab/report/load-trust';
import { RUN_RECORD_SCHEMA, type RunRecord, type TargetRecord } from '../lab/record/run-record';

const base = {
  kind: 'scenario',
  name: 'iso',
  description: 'd',
  targets: [
    { name: 'a', server: {} },
    { name: 'b', server: {} },
  ],
  load: { mode: 'keep-alive', connections: 4, durationSec: 1 },
};

function errorsOf(isolation: unknown): string[] {
  const r = validateScenario({ ...base, isolation });
  return r.ok ? [] : r.errors;
}

describe('CPU lists', () => {
  it('reads taskset -c lists and writes them as the kernel does', () => {
    expect(parseCpuList('0')).toEqual([0]);
    expect(parseCpuList('0-2,5')).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('3,1')).toEqual([1, 3]);
    for (const bad of ['', '2-1', 'a', '0,', '-1', '0 - 1']) expect(parseCpuList(bad)).toBeNull();
    expect(formatCpuList([5, 0, 1, 2])).toBe('0-2,5');
    expect(formatCpuList([1, 3])).toBe('1,3');
  });

  it("reads this process's Cpus_allowed_list", () => {
    expect(allowedCpus('Name:\tx\nCpus_allowed_list:\t0-3,6\n')).toEqual([0, 1, 2, 3, 6]);
    expect(allowedCpus('Name:\tx\n')).toBeNull();
    expect(allowedCpus()!.length).toBeGreaterThan(0);
  });
});

describe('validating isolation', () => {
  it('accepts the three modes and records concurrent by default', () => {
    expect(errorsOf({ mode: 'concurrent' })).toEqual([]);
    expect(errorsOf({ mode: 'sequential' })).toEqual([]);
    expect(errorsOf({ mode: 'pinned', targets: { a: '0', b: '1' }, drivers: '0-1' })).toEqual([]);
    const r = validateScenario(base);
    expect(r.ok && resolveScenario(r.scenario).isolation).toEqual({ mode: 'concurrent' });
  });

  it('names the field of every error at once', () => {
    expect(errorsOf('pinned')).toEqual([expect.stringMatching(/^isolation: must be an object/)]);
    expect(errorsOf({ mode: 'fair' })).toEqual([
      expect.stringMatching(
        /^isolation\.mode: must be one of "concurrent", "pinned", "sequential", got "fair"/,
      ),
    ]);
    expect(errorsOf({ mode: 'sequential', drivers: '0' })).toEqual([
      expect.stringMatching(/^isolation\.drivers: unknown key for mode "sequential"/),
    ]);
    const e = errorsOf({ mode: 'pinned', targets: { a: '0-', c: '1' }, drivers: 3 });
    expect(e).toHaveLength(4);
    expect(e).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^isolation\.targets\.a: must be a CPU list .* got "0-"/),
        expect.stringMatching(
          /^isolation\.targets\.c: no target has this name; the targets are "a", "b"/,
        ),
        expect.stringMatching(
          /^isolation\.targets\.b: missing; pinned gives every target a CPU set/,
        ),
        expect.stringMatching(/^isolation\.drivers: must be a CPU list .* got 3/),
      ]),
    );
    expect(errorsOf({ mode: 'pinned' })).toEqual([
      expect.stringMatching(/^isolation\.targets: pinned needs a CPU list per target/),
    ]);
  });

  it('names the CPU sets this machine does not give the lab', () => {
    const iso = { mode: 'pinned' as const, targets: { a: '0', b: '1-3' }, drivers: '4' };
    expect(unavailableCpuErrors(iso, [0, 1])).toEqual([
      'isolation.targets.b: CPU 2-3 is not available here (the lab may run on CPUs 0-1)',
      'isolation.drivers: CPU 4 is not available here (the lab may run on CPUs 0-1)',
    ]);
    expect(unavailableCpuErrors(iso, [0, 1, 2, 3, 4])).toEqual([]);
    expect(unavailableCpuErrors({ mode: 'sequential' }, [0])).toEqual([]);
  });
});

describe('workers outnumbering their CPUs, per isolation', () => {
  const t = (name: string, workers: number, cpus?: string): TargetRecord =>
    ({
      name,
      server: { workers },
      containers: [{}],
      ...(cpus ? { cpus } : {}),
    }) as unknown as TargetRecord;
  const rec = (isolation: unknown, targets: TargetRecord[]): RunRecord =>
    ({
      schema: RUN_RECORD_SCHEMA,
      environment: { cpus: 4 },
      resolved: { isolation },
      cells: [{ id: 'cell-0', matrix: {}, targets }],
    }) as unknown as RunRecord;
  const texts = (r: RunRecord) => oversubscriptionTexts(r, r.cells[0]!);

  it('concurrent: 3 + 3 workers on 4 CPUs is too many', () => {
    expect(texts(rec({ mode: 'concurrent' }, [t('a', 3), t('b', 3)]))).toEqual([
      expect.stringContaining(
        "6 server workers of targets a (3), b (3), running at once, outnumbered the machine's 4 CPUs",
      ),
    ]);
  });

  it('sequential: each target alone, 3 workers on 4 CPUs is fine; 5 is not', () => {
    expect(texts(rec({ mode: 'sequential' }, [t('a', 3), t('b', 3)]))).toEqual([]);
    expect(texts(rec({ mode: 'sequential' }, [t('a', 3), t('b', 5)]))).toEqual([
      expect.stringContaining("5 server workers of target b outnumbered the machine's 4 CPUs"),
    ]);
  });

  it('pinned: workers against their own CPU set, and whether the drivers shared it', () => {
    const iso = { mode: 'pinned', targets: { a: '0-1', b: '2' }, drivers: '3' };
    const out = texts(rec(iso, [t('a', 2, '0-1'), t('b', 2, '2')]));
    // a: 2 workers on 2 CPUs fits; b: 2 on 1 does not, and the drivers were on CPU 3.
    expect(out).toEqual([
      '2 server workers of target b outnumbered CPU set 2 (1 CPU): workers waited for a CPU',
    ]);
  });
});
