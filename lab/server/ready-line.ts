// The FORKLAB_READY line: the one line `forklab serve` prints on stdout once every worker is set up,
// with the ports it actually got (also when 0 was asked) and the workers' pids. Built and read here
// only: serve.ts prints it, the runtimes and the tests read it back from a stream or a log file.

/** The line the lab (and the engine tests) wait for. */
export const READY_PREFIX = 'FORKLAB_READY ';

export interface ReadyLine {
  port: number;
  metricsPort: number;
  pids: number[];
  /**
   * Other ports the lab's side of the server listens on besides the metrics port, not under load
   * (nginx's stub_status): inspect labels them `adapter`.
   */
  adapterPorts?: number[];
}

export function formatReadyLine(r: ReadyLine): string {
  return `${READY_PREFIX}${JSON.stringify({ port: r.port, metricsPort: r.metricsPort, pids: r.pids, ...(r.adapterPorts ? { adapterPorts: r.adapterPorts } : {}) })}`;
}

/** One line read back, or undefined when it is not a (well-formed) ready line. */
export function parseReadyLine(line: string): ReadyLine | undefined {
  const text = line.trim();
  if (!text.startsWith(READY_PREFIX.trim())) return undefined;
  try {
    const r = JSON.parse(text.slice(READY_PREFIX.length)) as Partial<ReadyLine>;
    if (typeof r.port !== 'number' || typeof r.metricsPort !== 'number' || !Array.isArray(r.pids)) {
      return undefined;
    }
    const adapterPorts =
      Array.isArray(r.adapterPorts) && r.adapterPorts.every((p) => typeof p === 'number')
        ? { adapterPorts: r.adapterPorts }
        : {};
    return { port: r.port, metricsPort: r.metricsPort, pids: r.pids, ...adapterPorts };
  } catch {
    return undefined;
  }
}

/** The first ready line in a text of several lines (a log file), if any. */
export function findReadyLine(text: string): ReadyLine | undefined {
  for (const line of text.split('\n')) {
    const r = parseReadyLine(line);
    if (r) return r;
  }
  return undefined;
}
