// The command line both benchmarks share: rounds, duration, connections, wrk threads, --only.
import { parseArgs } from 'node:util';

export interface BenchOptions<Only extends string> {
  rounds: number;
  durationSec: number;
  connections: number;
  threads: number;
  /** Run one part only. */
  only: Only | undefined;
}

export function parseBenchOptions<Only extends string>(
  argv: string[],
  bench: { name: string; connections: number; threads: number; only: readonly Only[] },
): BenchOptions<Only> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: String(bench.connections) },
      threads: { type: 'string', default: String(bench.threads) },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      `usage: npm run ${bench.name} -- [--rounds 3] [--duration 5] ` +
        `[--connections ${bench.connections}] [--threads ${bench.threads}] [--only ${bench.only.join('|')}]`,
    );
    process.exit(0);
  }
  const int = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
    }
    return n;
  };
  const only = values.only;
  if (only !== undefined && !(bench.only as readonly string[]).includes(only)) {
    throw new Error(`--only must be one of ${bench.only.join(', ')}, got ${JSON.stringify(only)}`);
  }
  const o: BenchOptions<Only> = {
    rounds: int('rounds', values.rounds, 1),
    durationSec: int('duration', values.duration, 1),
    connections: int('connections', values.connections, 1),
    threads: int('threads', values.threads, 1),
    only: only as Only | undefined,
  };
  if (o.threads > o.connections) throw new Error('--threads must not exceed --connections');
  return o;
}
