// Runs every panel query of a dashboard against a Prometheus, the way Grafana would send it (its
// variables substituted), at one instant: what the proof tests use to show that each panel has
// real data, and a way to check a dashboard against any run the lab has scraped.
import { panelQueries, substitute, type PanelQuery } from '../../dashboards/promql';
import { instantQuery, type PromSample } from './prometheus-process';

export interface QueryOutcome {
  query: PanelQuery;
  /** The PromQL sent, variables substituted. */
  expr: string;
  /** Samples with a finite value (NaN and ±Inf dropped). */
  samples: PromSample[];
  /** The error Prometheus gave, if the query failed. */
  error?: string;
}

export interface PanelCheckOptions {
  prometheusUrl: string;
  /** The dashboard JSON (as generated). */
  board: unknown;
  /** Template variables (values as sent: a regex for =~ matchers, `.*` for All). */
  vars: Readonly<Record<string, string>>;
  /** Evaluation time, unix seconds. */
  timeSec: number;
  /** $__rate_interval; default 10s (≥ 4 scrapes at 1 s, as Grafana's would be). */
  rateInterval?: string;
  /** $__range; default 5m. */
  range?: string;
}

export async function evaluatePanels(o: PanelCheckOptions): Promise<QueryOutcome[]> {
  const out: QueryOutcome[] = [];
  for (const query of panelQueries(o.board)) {
    const expr = substitute(query.expr, {
      vars: o.vars,
      rateInterval: o.rateInterval ?? '10s',
      interval: '1s',
      range: o.range ?? '5m',
    });
    try {
      const samples = (await instantQuery(o.prometheusUrl, expr, o.timeSec)).filter((s) =>
        Number.isFinite(Number(s.value[1])),
      );
      out.push({ query, expr, samples });
    } catch (err) {
      out.push({ query, expr, samples: [], error: (err as Error).message });
    }
  }
  return out;
}

export const describeQuery = (q: PanelQuery): string => `${q.dashboard} / "${q.panel}" ${q.refId}`;

/** Sum of the samples' values per value of `label`. */
export function sumBy(samples: readonly PromSample[], label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const k = s.metric[label] ?? '';
    out[k] = (out[k] ?? 0) + Number(s.value[1]);
  }
  return out;
}
