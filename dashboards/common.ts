// Building blocks of the forklab dashboards: the datasource, the template variables, label
// selectors, PromQL helpers, panel builders with units and descriptions, and a grid that places
// panels row by row.
//
// Series come from two kinds of exporters, told apart by the file SD label `role`
// (lab/prometheus/file-sd.ts): forklab servers (role="server", labels scenario, run, cell,
// target, loop_creation, flavour, server) and the lab's client exporter (role="client"; its series
// carry their own target and cell). Rates use $__rate_interval: with the datasource's 1 s scrape
// interval (timeInterval in the provisioned datasource) it is at least 4 s, so short runs show.
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasource every panel uses: the `datasource` variable (the provisioned one by default). */
export const DATASOURCE: { type: string; uid: string } = {
  type: 'prometheus',
  uid: '${datasource}',
};
/** The uid of the datasource dashboards/provisioning/datasources/prometheus.yml provisions. */
export const PROVISIONED_DATASOURCE_UID = 'forklab-prometheus';

export const MAIN_UID = 'forklab-main';
export const WORKER_UID = 'forklab-worker';

/** Units used by the panels (Grafana unit ids). */
export const UNIT = {
  requestsPerSec: 'reqps',
  eventsPerSec: 'eps',
  callsPerSec: 'ops',
  switchesPerSec: 'cps',
  ratio: 'none',
  percent: 'percentunit',
  seconds: 's',
  ms: 'ms',
  count: 'short',
  cores: 'percentunit',
} as const;

/** Matchers of the dashboard variables (all regex matchers: All is `.*`). */
const RUN_MATCHERS = 'scenario=~"$scenario", run=~"$run", cell=~"$cell"';

/** Selector of server series (one target or several, per the `target` variable). */
export function serverSel(extra = '', target = 'target=~"$target"'): string {
  return `{role="server", ${RUN_MATCHERS}, ${target}${extra ? `, ${extra}` : ''}}`;
}

/** Selector of the client exporter's series. */
export function clientSel(extra = ''): string {
  return `{role="client", ${RUN_MATCHERS}, target=~"$target"${extra ? `, ${extra}` : ''}}`;
}

/** Grouping of server series per target (run and cell keep runs and matrix cells apart). */
export const BY_TARGET = 'run, cell, target, loop_creation';
/** Grouping of client series per target. */
export const BY_CLIENT = 'run, cell, target';
/** Grouping per worker: server (container or process) and worker index. */
export const BY_WORKER = 'run, cell, target, server, worker';

/** `sum by (by) (rate(metric{sel}[$__rate_interval]))` */
export function sumRate(metric: string, sel: string, by: string): string {
  return `sum by (${by}) (rate(${metric}${sel}[$__rate_interval]))`;
}

/** `num / (den > 0)`: no value (rather than NaN or Inf) while the denominator is zero. */
export function ratio(num: string, den: string, scale?: number): string {
  return `${scale !== undefined ? `${scale} * ` : ''}${num} / (${den} > 0)`;
}

/**
 * Adds a `container` label (the server's index: `forklab-<run>-<target>-<i>` → i), so that a
 * worker reads `<container>/<worker>` like the run record's worker keys.
 */
export function withContainer(expr: string): string {
  return `label_replace(${expr}, "container", "$1", "server", ".*-([0-9]+)$")`;
}

export const WORKER_LEGEND = '{{container}}/w{{worker}}';
export const TARGET_LEGEND = '{{target}} ({{loop_creation}}) {{cell}}';
export const CLIENT_LEGEND = '{{target}} {{cell}}';

export interface Query {
  expr: string;
  legend: string;
  /** Instant query (bar gauges, tables); default range. */
  instant?: boolean;
  /** Table format (one row per series). */
  table?: boolean;
}

function query(q: Query, i: number): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder()
    .refId(String.fromCharCode(65 + i))
    .datasource(DATASOURCE)
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(q.expr)
    .legendFormat(q.legend);
  if (q.instant) b.instant();
  else b.range();
  if (q.table) b.format(prometheus.PromQueryFormat.Table);
  return b;
}

export interface PanelSpec {
  title: string;
  /** One line: what the panel shows and which mechanism drives it. */
  description: string;
  unit: string;
  queries: Query[];
  decimals?: number;
  /** Lower bound of the axis (default 0: every forklab figure is ≥ 0). */
  min?: number;
  max?: number;
  stack?: boolean;
  links?: Array<{ title: string; url: string }>;
}

function legend(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.Table)
    .placement(common.LegendPlacement.Bottom)
    .calcs(['mean', 'max', 'lastNotNull']);
}

function dataLinks(links: PanelSpec['links']): dashboard.DashboardLinkBuilder[] {
  return (links ?? []).map((l) => new dashboard.DashboardLinkBuilder(l.title).url(l.url));
}

/** A time series panel. */
export function timeseriesPanel(p: PanelSpec): timeseries.PanelBuilder {
  const b = new timeseries.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .min(p.min ?? 0)
    .lineWidth(1)
    .fillOpacity(p.stack ? 30 : 8)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(legend())
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    )
    .targets(p.queries.map(query));
  if (p.decimals !== undefined) b.decimals(p.decimals);
  if (p.max !== undefined) b.max(p.max);
  if (p.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.links?.length) b.dataLinks(dataLinks(p.links));
  return b;
}

/** A horizontal bar gauge of instant values (one bar per series). */
export function barGaugePanel(p: PanelSpec): bargauge.PanelBuilder {
  const b = new bargauge.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .min(p.min ?? 0)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .showUnfilled(true)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .targets(p.queries.map(query));
  if (p.decimals !== undefined) b.decimals(p.decimals);
  if (p.max !== undefined) b.max(p.max);
  return b;
}

/** A table of instant values, one row per series (its labels as columns). */
export function tablePanel(p: PanelSpec, hide: string[]): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .targets(p.queries.map(query))
    .withTransformation({
      id: 'organize',
      options: { excludeByName: Object.fromEntries(hide.map((h) => [h, true])) },
    });
}

/** Query variable `label_values(<selector>, <label>)`. */
export function labelVariable(o: {
  name: string;
  label: string;
  selector: string;
  description: string;
  multi?: boolean;
  includeAll?: boolean;
  sortDesc?: boolean;
}): dashboard.QueryVariableBuilder {
  const q = `label_values(${o.selector}, ${o.name})`;
  const b = new dashboard.QueryVariableBuilder(o.name)
    .label(o.label)
    .description(o.description)
    .datasource(DATASOURCE)
    .query(q)
    .definition(q)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(o.sortDesc ? dashboard.VariableSort.NaturalDesc : dashboard.VariableSort.NaturalAsc)
    .multi(o.multi ?? false)
    .includeAll(o.includeAll ?? false);
  if (o.includeAll) b.allValue('.*');
  return b;
}

export function datasourceVariable(): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder('datasource')
    .label('Prometheus')
    .description('The Prometheus that scraped the lab (the provisioned one by default).')
    .type('prometheus')
    .current({ text: 'forklab Prometheus', value: PROVISIONED_DATASOURCE_UID });
}

/** Grafana's built-in annotations (deploys, manual notes). */
export function builtInAnnotations(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Annotations & Alerts')
    .builtIn(1)
    .datasource({ type: 'grafana', uid: '-- Grafana --' })
    .enable(true)
    .hide(true)
    .iconColor('rgba(0, 211, 255, 1)')
    .type('dashboard');
}

type Placeable = {
  gridPos(p: dashboard.GridPos): unknown;
  build(): dashboard.Panel | dashboard.RowPanel;
};

/** Places panels left to right, wrapping at 24 columns; rows span the width. */
export class Grid {
  private x = 0;
  private y = 0;
  private rowHeight = 0;
  private id = 1;

  constructor(private readonly board: dashboard.DashboardBuilder) {}

  row(title: string): this {
    this.newLine();
    const r = new dashboard.RowBuilder(title)
      .id(this.id++)
      .gridPos({ x: 0, y: this.y, w: 24, h: 1 });
    this.board.withRow(r);
    this.y += 1;
    return this;
  }

  add(panel: Placeable & { id(id: number): unknown }, w = 12, h = 8): this {
    if (this.x + w > 24) this.newLine();
    panel.id(this.id++);
    panel.gridPos({ x: this.x, y: this.y, w, h });
    this.board.withPanel(
      panel as unknown as Parameters<dashboard.DashboardBuilder['withPanel']>[0],
    );
    this.x += w;
    this.rowHeight = Math.max(this.rowHeight, h);
    return this;
  }

  private newLine(): void {
    if (this.x > 0) this.y += this.rowHeight;
    this.x = 0;
    this.rowHeight = 0;
  }
}

/**
 * The frame both dashboards share: settings, a link to the other dashboard, and the variables
 * datasource → scenario → run → cell → target (each filtered by the ones before it).
 */
export function forklabDashboard(o: {
  title: string;
  uid: string;
  description: string;
  link: { title: string; uid: string; slug: string; tooltip: string };
  target: { description: string; multi: boolean };
}): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(o.title)
    .uid(o.uid)
    .description(o.description)
    .tags(['forklab'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-15m', to: 'now' })
    .refresh('5s')
    .timezone('browser')
    .annotation(builtInAnnotations())
    .link(
      new dashboard.DashboardLinkBuilder(o.link.title)
        .type(dashboard.DashboardLinkType.Link)
        .url(`/d/${o.link.uid}/${o.link.slug}`)
        .icon('dashboard')
        .tooltip(o.link.tooltip)
        .includeVars(true)
        .keepTime(true),
    )
    .withVariable(datasourceVariable())
    .withVariable(
      labelVariable({
        name: 'scenario',
        label: 'Scenario',
        selector: 'forklab_server_info{role="server"}',
        description: 'Scenario of the run (file SD label scenario).',
        includeAll: true,
      }),
    )
    .withVariable(
      labelVariable({
        name: 'run',
        label: 'Run',
        selector: 'forklab_server_info{role="server", scenario=~"$scenario"}',
        description: 'Run id (newest first: ids start with the time).',
        sortDesc: true,
      }),
    )
    .withVariable(
      labelVariable({
        name: 'cell',
        label: 'Cell',
        selector: 'forklab_server_info{role="server", scenario=~"$scenario", run=~"$run"}',
        description: 'Matrix cell of the run (cell-0 without a matrix).',
        multi: true,
        includeAll: true,
      }),
    )
    .withVariable(
      labelVariable({
        name: 'target',
        label: 'Target',
        selector:
          'forklab_server_info{role="server", scenario=~"$scenario", run=~"$run", cell=~"$cell"}',
        description: o.target.description,
        ...(o.target.multi ? { multi: true, includeAll: true } : {}),
      }),
    );
}
