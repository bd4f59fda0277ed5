import { SERVE_DEFAULTS, validateServeConfig } from '../lab/server/config';
import { loadScenario } from '../lab/scenario/load-scenario';
import {
  describeCell,
  expandCells,
  resolveScenario,
  selectTargets,
} from '../lab/scenario/resolve-scenario';
import { defineScenario, type Scenario } from '../lab/scenario/scenario';

function shipped(name: string): Scenario {
  const r = loadScenario(name);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

const minimal = defineScenario({
  name: 'minimal',
  description: 'Defaults only.',
  targets: [{ name: 'a', server: {} }],
  load: { mode: 'keep-alive', connections: 2, durationSec: 3 },
});

describe('resolveScenario', () => {
  test('fills every default', () => {
    const r = resolveScenario(minimal);
    expect(r.load).toEqual({
      mode: 'keep-alive',
      connections: 2,
      durationSec: 3,
      warmupSec: 1,
      timeoutMs: 2000,
      path: '/',
      pipelining: 1,
      driver: 'node',
      driverThreads: 1,
    });
    expect(r.sampleIntervalMs).toBe(1000);
    expect(r.drainSec).toBe(1);
    expect(r.expectations).toEqual([]);
    expect(r.matrix).toBeUndefined();
    const { port: _p, metricsPort: _m, ...rest } = SERVE_DEFAULTS;
    expect(r.targets).toEqual([
      {
        kind: 'engine',
        name: 'a',
        containers: 1,
        server: { ...rest, metricsHost: '127.0.0.1', name: 'a' },
      },
    ]);
  });

  test('keeps what is given; churn has no pipelining; rate only when set', () => {
    const r = resolveScenario(
      defineScenario({
        ...minimal,
        targets: [{ name: 'a', containers: 3, server: { workers: 8, trigger: 'edge' } }],
        load: {
          mode: 'churn',
          connections: 5,
          durationSec: 4,
          warmupSec: 0,
          rate: 100,
          path: '/pid',
        },
        sampleIntervalMs: 200,
        drainSec: 0,
      }),
    );
    expect(r.load).toEqual({
      mode: 'churn',
      connections: 5,
      durationSec: 4,
      warmupSec: 0,
      rate: 100,
      timeoutMs: 2000,
      path: '/pid',
      driver: 'node',
      driverThreads: 1,
    });
    expect(r.targets[0]).toMatchObject({ containers: 3, server: { workers: 8, trigger: 'edge' } });
    expect([r.sampleIntervalMs, r.drainSec]).toEqual([200, 0]);
    expect('rate' in resolveScenario(minimal).load).toBe(false);
  });
});

describe('expandCells', () => {
  test('one cell without a matrix', () => {
    const cells = expandCells(shipped('compare'));
    expect(cells.map((c) => [c.id, c.matrix, c.targets.map((t) => t.name)])).toEqual([
      ['cell-0', {}, ['post-fork', 'pre-fork']],
    ]);
    expect(cells[0]!.targets[1]!.server).toMatchObject({ loopCreation: 'pre-fork', workers: 4 });
    expect(cells[0]!.load).toMatchObject({ mode: 'keep-alive', durationSec: 10, warmupSec: 2 });
    expect(describeCell(cells[0]!)).toBe('cell-0');
  });

  test('the herd matrix: 8 cells, first key slowest, same target names, values over the targets', () => {
    const cells = expandCells(shipped('herd'));
    expect(cells.map(describeCell)).toEqual([
      'cell-0 (workers=1, exclusive=false)',
      'cell-1 (workers=1, exclusive=true)',
      'cell-2 (workers=2, exclusive=false)',
      'cell-3 (workers=2, exclusive=true)',
      'cell-4 (workers=4, exclusive=false)',
      'cell-5 (workers=4, exclusive=true)',
      'cell-6 (workers=8, exclusive=false)',
      'cell-7 (workers=8, exclusive=true)',
    ]);
    for (const c of cells) {
      expect(c.targets.map((t) => t.name)).toEqual(['shared-socket', 'reuseport']);
      for (const t of c.targets) {
        expect(t.server.workers).toBe(c.matrix.workers);
        expect(t.server.exclusive).toBe(c.matrix.exclusive);
        expect(t.server.acceptBatch).toBe(1);
      }
      expect(c.targets[1]!.server.reusePort).toBe(true);
      expect(c.sampleIntervalMs).toBe(1000);
      expect(c.drainSec).toBe(1);
    }
  });

  test('every resolved server of every shipped scenario is a valid serve config', () => {
    for (const name of [
      'compare',
      'herd',
      'keyerror',
      'edge-hang',
      'eexist',
      'cycling',
      'client-abort',
    ]) {
      for (const cell of expandCells(shipped(name))) {
        for (const t of cell.targets) {
          const r = validateServeConfig({ ...t.server, port: 0, metricsPort: 0 });
          expect(r.errors ?? []).toEqual([]);
        }
      }
    }
  });

  test('selectTargets: names, "*", and settings as the cell resolves them', () => {
    const cells = expandCells(shipped('herd'));
    const names = (sel: string, i: number) => selectTargets(sel, cells[i]!).map((t) => t.name);
    expect(names('*', 0)).toEqual(['shared-socket', 'reuseport']);
    expect(names('reuseport', 0)).toEqual(['reuseport']);
    expect(names('reusePort=true', 0)).toEqual(['reuseport']);
    expect(names('exclusive=true', 0)).toEqual([]);
    expect(names('exclusive=true', 1)).toEqual(['shared-socket', 'reuseport']);
    expect(names('workers=8', 6)).toEqual(['shared-socket', 'reuseport']);
    expect(names('loopCreation=pre-fork', 6)).toEqual([]);
  });
});
