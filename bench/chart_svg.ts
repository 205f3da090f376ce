/**
 * The report's chart: panels of grouped bars on a logarithmic axis (the workloads span four
 * orders of magnitude, from a contended lock at one client to stale reads at 64), with an
 * optional whisker per bar (p99 over a p50 bar). Described as a Vega-Lite specification and
 * rendered to SVG here, on the server side (npm `vega-lite` compiles it, npm `vega` renders it
 * without a browser or a canvas); it replaced a hand-written SVG renderer. The SVG is readable
 * in any browser and on GitHub.
 *
 * @module
 */

import * as vega from "vega";
import * as vl from "vega-lite";

/**
 * One bar series (a system), drawn in `color`.
 *
 * @example
 * ```ts
 * import type { ChartSeries } from "./chart_svg.ts";
 * const s: ChartSeries = { name: "edgeraft", color: "#2563eb" };
 * ```
 */
export interface ChartSeries {
  name: string;
  color: string;
}

/**
 * One group of bars: a value per series (undefined: not measured), and optional whisker tops.
 *
 * @example
 * ```ts
 * import type { ChartGroup } from "./chart_svg.ts";
 * const g: ChartGroup = { label: "put 64", values: [8000, 3700], whiskers: [12, 30] };
 * ```
 */
export interface ChartGroup {
  label: string;
  values: (number | undefined)[];
  whiskers?: (number | undefined)[];
}

/**
 * A panel: a title, the unit of its axis, and its groups.
 *
 * @example
 * ```ts
 * import type { ChartPanel } from "./chart_svg.ts";
 * const p: ChartPanel = { title: "Throughput", unit: "ops/s", groups: [] };
 * ```
 */
export interface ChartPanel {
  title: string;
  unit: string;
  groups: ChartGroup[];
}

/** Pixels per group of bars along the x axis. */
const WIDTH_PER_GROUP = 56;
/** Wide enough for the titles when only a few groups were measured. */
const MIN_WIDTH = 640;
const PANEL_HEIGHT = 260;

/**
 * A short label for a number: 12.3k, 4.5, 0.12.
 *
 * @example
 * ```ts
 * import { shortNumber } from "./chart_svg.ts";
 * shortNumber(12_345); // "12.3k"
 * shortNumber(0.1234); // "0.12"
 * ```
 */
export function shortNumber(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** One bar as a data row of the specification. */
interface BarRow {
  group: string;
  order: number;
  series: string;
  value: number;
  whisker: number | null;
  text: string;
  description: string;
}

const measured = (v: number | undefined): v is number =>
  v !== undefined && v > 0 && Number.isFinite(v);

function rows(panel: ChartPanel, series: ChartSeries[]): BarRow[] {
  return panel.groups.flatMap((group, order) =>
    group.values.flatMap((value, si) => {
      if (!measured(value)) return [];
      const top = group.whiskers?.[si];
      const whisker = measured(top) && top > value ? top : null;
      const name = series[si].name;
      return [{
        group: group.label,
        order,
        series: name,
        value,
        whisker,
        text: shortNumber(value),
        description: `${name} ${group.label}: ${shortNumber(value)}` +
          (whisker === null ? "" : ` (whisker ${shortNumber(whisker)})`),
      }];
    })
  );
}

/** The Vega-Lite specification of one panel: bars, whiskers, value labels. */
function panelSpec(panel: ChartPanel, series: ChartSeries[], width: number) {
  const data = rows(panel, series);
  const labels = panel.groups.map((g) => g.label);
  if (data.length === 0) {
    return {
      title: { text: panel.title, anchor: "start" },
      width,
      height: 40,
      data: { values: [{ text: "nothing measured" }] },
      mark: { type: "text", align: "left", x: 0, y: 20 },
      encoding: { text: { field: "text" } },
    };
  }
  const x = {
    field: "group",
    type: "nominal",
    sort: labels,
    title: null,
    axis: { labelAngle: 35, labelAlign: "left" },
  };
  const xOffset = { field: "series", sort: series.map((s) => s.name) };
  // Whole decades, set here: a bar's zero baseline would otherwise put 0 in a log domain.
  const numbers = data.flatMap((r) => r.whisker === null ? [r.value] : [r.value, r.whisker]);
  const low = 10 ** Math.floor(Math.log10(Math.min(...numbers)));
  const high = Math.max(low * 10, 10 ** Math.ceil(Math.log10(Math.max(...numbers))));
  const scale = { type: "log", domain: [low, high] };
  const decades: number[] = [];
  for (let d = low; d <= high * 1.001; d *= 10) decades.push(Number(d.toPrecision(1)));
  const y = {
    field: "value",
    type: "quantitative",
    scale,
    title: `${panel.unit} (log scale)`,
    // A line and a label per decade: 0.1, 1, 10, 100, 1k, 10k.
    axis: {
      values: decades,
      grid: true,
      labelExpr: "datum.value >= 1000 ? format(datum.value, '~s') : format(datum.value, '~g')",
    },
  };
  return {
    title: { text: panel.title, anchor: "start" },
    width,
    height: PANEL_HEIGHT,
    data: { values: data },
    layer: [
      {
        mark: { type: "bar" },
        encoding: {
          x,
          xOffset,
          y,
          y2: { datum: low },
          color: {
            field: "series",
            type: "nominal",
            scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) },
            legend: { title: null, orient: "top", direction: "horizontal", labelLimit: 400 },
          },
          description: { field: "description" },
        },
      },
      {
        transform: [{ filter: "datum.whisker !== null" }],
        mark: { type: "rule", color: "#111" },
        encoding: { x, xOffset, y, y2: { field: "whisker" } },
      },
      {
        transform: [{ filter: "datum.whisker !== null" }],
        mark: { type: "tick", color: "#111", thickness: 1, bandSize: 8 },
        encoding: { x, xOffset, y: { ...y, field: "whisker" } },
      },
      {
        mark: { type: "text", angle: 270, align: "left", dx: 4, fontSize: 9, color: "#333" },
        encoding: {
          x,
          xOffset,
          y: { field: "top", type: "quantitative", scale },
          text: { field: "text" },
        },
        transform: [{
          calculate: "datum.whisker === null ? datum.value : datum.whisker",
          as: "top",
        }],
      },
    ],
  };
}

/**
 * Renders `panels` one under the other, with a legend of `series`, as one SVG document.
 *
 * @example
 * ```ts
 * import { renderChartSvg } from "./chart_svg.ts";
 * const svg = await renderChartSvg("Bench", [{ name: "edgeraft", color: "#2563eb" }], [
 *   { title: "Throughput", unit: "ops/s", groups: [{ label: "put 1", values: [900] }] },
 * ]);
 * svg.startsWith("<svg"); // true
 * ```
 */
export async function renderChartSvg(
  title: string,
  series: ChartSeries[],
  panels: ChartPanel[],
): Promise<string> {
  const groups = Math.max(1, ...panels.map((p) => p.groups.length));
  const width = Math.max(MIN_WIDTH, groups * WIDTH_PER_GROUP);
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, anchor: "start", fontSize: 16 },
    background: "white",
    padding: 16,
    config: {
      font: "sans-serif",
      view: { stroke: null },
      axis: { labelFontSize: 11, titleFontSize: 11, gridColor: "#ddd" },
      title: { fontSize: 13 },
    },
    resolve: { scale: { color: "shared" } },
    vconcat: panels.map((p) => panelSpec(p, series, width)),
    spacing: 60,
  };
  // deno-lint-ignore no-explicit-any
  const compiled = vl.compile(spec as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return (await view.toSVG()) + "\n";
  } finally {
    view.finalize();
  }
}
