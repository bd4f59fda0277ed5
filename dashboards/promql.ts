// Reading the queries back out of a dashboard's JSON, and replacing Grafana's variables in them,
// so that every panel's PromQL can be run against Prometheus directly (the proof tests do).
//
// Grafana interpolates before it sends a query: $__rate_interval (max(4 × scrape interval,
// interval + scrape interval)), $__interval, $__range, and the template variables ($run, ${run},
// ${run:regex}, [[run]]). `substitute` does the same with values the caller gives: e.g. 10s for
// $__rate_interval, the test's run id for $run, `.*` for an All selection.

/** A query of one panel. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  panelType: string;
  refId: string;
  expr: string;
  legend: string;
  instant: boolean;
}

/** A `label_values(selector, label)` template variable. */
export interface VariableQuery {
  dashboard: string;
  name: string;
  selector: string;
  label: string;
}

interface JsonPanel {
  type?: string;
  title?: string;
  panels?: JsonPanel[];
  targets?: Array<{ refId?: string; expr?: string; legendFormat?: string; instant?: boolean }>;
}

interface JsonDashboard {
  uid?: string;
  title?: string;
  panels?: JsonPanel[];
  templating?: { list?: Array<{ type?: string; name?: string; query?: unknown }> };
}

/** Every panel of a dashboard, rows' nested panels included (rows themselves excluded). */
export function panelsOf(board: unknown): JsonPanel[] {
  const out: JsonPanel[] = [];
  const walk = (list: JsonPanel[] | undefined) => {
    for (const p of list ?? []) {
      if (p.type === 'row') walk(p.panels);
      else out.push(p);
    }
  };
  walk((board as JsonDashboard).panels);
  return out;
}

/** Every Prometheus query of every panel. */
export function panelQueries(board: unknown): PanelQuery[] {
  const b = board as JsonDashboard;
  return panelsOf(b).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => typeof t.expr === 'string')
      .map((t) => ({
        dashboard: b.uid ?? b.title ?? '?',
        panel: p.title ?? '?',
        panelType: p.type ?? '?',
        refId: t.refId ?? '?',
        expr: t.expr!,
        legend: t.legendFormat ?? '',
        instant: t.instant === true,
      })),
  );
}

const LABEL_VALUES = /^\s*label_values\(\s*(.*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s;

/** The dashboard's `label_values(selector, label)` query variables. */
export function variableQueries(board: unknown): VariableQuery[] {
  const b = board as JsonDashboard;
  return (b.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string })?.query;
      const m = LABEL_VALUES.exec(q ?? '');
      if (!m)
        throw new Error(`variable ${v.name}: not a label_values(selector, label) query: ${q}`);
      return { dashboard: b.uid ?? '?', name: v.name ?? '?', selector: m[1]!.trim(), label: m[2]! };
    });
}

export interface Substitution {
  /** Template variables by name (values go in as they are: give regexes for =~ matchers). */
  vars: Readonly<Record<string, string>>;
  /** Default 10s. */
  rateInterval?: string;
  /** Default 1s. */
  interval?: string;
  /** Default 5m. */
  range?: string;
}

const VARIABLE =
  /\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)/g;

/**
 * Replaces Grafana's variables in `expr`. Throws on a variable it has no value for, so a typo
 * in a dashboard fails the tests rather than sending `$tagret` to Prometheus.
 */
export function substitute(expr: string, s: Substitution): string {
  const builtins: Record<string, string> = {
    __rate_interval: s.rateInterval ?? '10s',
    __interval: s.interval ?? '1s',
    __range: s.range ?? '5m',
  };
  return expr.replace(VARIABLE, (whole, braced?: string, bracketed?: string, plain?: string) => {
    const name = braced ?? bracketed ?? plain!;
    const value = builtins[name] ?? s.vars[name];
    if (value === undefined) throw new Error(`no value for Grafana variable ${whole} in: ${expr}`);
    return value;
  });
}
