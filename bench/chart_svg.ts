/**
 * A hand-written SVG chart: panels of grouped bars on a logarithmic axis (the workloads span
 * four orders of magnitude, from a contended lock at one client to stale reads at 64), with an
 * optional whisker per bar (p99 over a p50 bar). No dependency, readable in any browser and on
 * GitHub.
 *
 * @module
 */

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

const WIDTH_PER_GROUP = 56;
const LEFT = 70;
/** Room for the last group's slanted label. */
const RIGHT = 90;
const PANEL_HEIGHT = 260;
const PANEL_GAP = 110;
const TOP = 60;
/** Wide enough for the titles when only a few groups were measured. */
const MIN_WIDTH = 760;

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

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

function panelSvg(panel: ChartPanel, series: ChartSeries[], top: number, width: number): string {
  const numbers = panel.groups.flatMap((g) => [...g.values, ...(g.whiskers ?? [])])
    .filter((v): v is number => v !== undefined && v > 0 && Number.isFinite(v));
  const out: string[] = [
    `<text x="${LEFT}" y="${top - 12}" class="panel">${escapeXml(panel.title)}</text>`,
  ];
  if (numbers.length === 0) {
    out.push(`<text x="${LEFT}" y="${top + 20}" class="label">nothing measured</text>`);
    return out.join("\n");
  }
  const lowDecade = Math.floor(Math.log10(Math.min(...numbers)));
  const highDecade = Math.max(lowDecade + 1, Math.ceil(Math.log10(Math.max(...numbers))));
  const bottom = top + PANEL_HEIGHT;
  const y = (v: number) =>
    bottom - ((Math.log10(v) - lowDecade) / (highDecade - lowDecade)) * PANEL_HEIGHT;
  for (let d = lowDecade; d <= highDecade; d++) {
    const yy = y(10 ** d).toFixed(1);
    out.push(`<line x1="${LEFT}" x2="${width - RIGHT}" y1="${yy}" y2="${yy}" class="grid"/>`);
    out.push(
      `<text x="${LEFT - 6}" y="${yy}" class="tick" text-anchor="end" dominant-baseline="middle">${
        shortNumber(10 ** d)
      }</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${top + PANEL_HEIGHT / 2}) rotate(-90)" class="label" ` +
      `text-anchor="middle">${escapeXml(panel.unit)} (log scale)</text>`,
  );
  const barWidth = Math.min(18, (WIDTH_PER_GROUP - 12) / series.length);
  panel.groups.forEach((group, gi) => {
    const groupX = LEFT + gi * WIDTH_PER_GROUP + (WIDTH_PER_GROUP - barWidth * series.length) / 2;
    group.values.forEach((value, si) => {
      const x = groupX + si * barWidth;
      if (value === undefined || value <= 0 || !Number.isFinite(value)) return;
      const yy = Math.min(bottom - 1, y(value));
      out.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" ` +
          `height="${(bottom - yy).toFixed(1)}" fill="${series[si].color}">` +
          `<title>${
            escapeXml(`${series[si].name} ${group.label}: ${shortNumber(value)}`)
          }</title>` +
          `</rect>`,
      );
      const whisker = group.whiskers?.[si];
      if (whisker !== undefined && whisker > value && Number.isFinite(whisker)) {
        const cx = (x + barWidth / 2 - 0.5).toFixed(1);
        const wy = y(whisker).toFixed(1);
        out.push(`<line x1="${cx}" x2="${cx}" y1="${yy.toFixed(1)}" y2="${wy}" class="whisker"/>`);
        out.push(
          `<line x1="${(x + 2).toFixed(1)}" x2="${(x + barWidth - 3).toFixed(1)}" y1="${wy}" ` +
            `y2="${wy}" class="whisker"/>`,
        );
      }
      const top = whisker !== undefined && Number.isFinite(whisker) ? whisker : value;
      const ly = Math.min(yy, y(top)) - 4;
      out.push(
        `<text transform="translate(${(x + barWidth / 2 + 3).toFixed(1)} ${ly.toFixed(1)}) ` +
          `rotate(-90)" class="value">${shortNumber(value)}</text>`,
      );
    });
    const lx = LEFT + gi * WIDTH_PER_GROUP + WIDTH_PER_GROUP / 2;
    out.push(
      `<text transform="translate(${lx} ${bottom + 10}) rotate(35)" class="label">${
        escapeXml(group.label)
      }</text>`,
    );
  });
  out.push(`<line x1="${LEFT}" x2="${width - RIGHT}" y1="${bottom}" y2="${bottom}" class="axis"/>`);
  return out.join("\n");
}

/**
 * Renders `panels` one under the other, with a legend of `series`.
 *
 * @example
 * ```ts
 * import { renderChartSvg } from "./chart_svg.ts";
 * const svg = renderChartSvg("Bench", [{ name: "edgeraft", color: "#2563eb" }], [
 *   { title: "Throughput", unit: "ops/s", groups: [{ label: "put 1", values: [900] }] },
 * ]);
 * svg.startsWith("<svg"); // true
 * ```
 */
export function renderChartSvg(
  title: string,
  series: ChartSeries[],
  panels: ChartPanel[],
): string {
  const groups = Math.max(1, ...panels.map((p) => p.groups.length));
  const width = Math.max(MIN_WIDTH, LEFT + groups * WIDTH_PER_GROUP + RIGHT);
  const height = TOP + panels.length * (PANEL_HEIGHT + PANEL_GAP);
  const legend = series.map((s, i) =>
    `<rect x="${LEFT + i * 120}" y="30" width="12" height="12" fill="${s.color}"/>` +
    `<text x="${LEFT + i * 120 + 16}" y="40" class="label">${escapeXml(s.name)}</text>`
  );
  const body = panels.map((p, i) =>
    panelSvg(p, series, TOP + 30 + i * (PANEL_HEIGHT + PANEL_GAP), width)
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<style>
.title{font-size:16px;font-weight:bold} .panel{font-size:13px;font-weight:bold}
.label{font-size:11px} .tick{font-size:10px;fill:#555} .value{font-size:9px;fill:#333}
.grid{stroke:#ddd;stroke-width:1} .axis{stroke:#333;stroke-width:1}
.whisker{stroke:#111;stroke-width:1}
</style>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="20" class="title">${escapeXml(title)}</text>`,
    ...legend,
    ...body,
    `</svg>`,
    "",
  ].join("\n");
}
