/**
 * Plain server-rendered SVG charts (no script, no dependency): a bar chart over labelled values,
 * with an optional limit line. Every label is escaped; sizes are fixed so the page lays out
 * without the chart's data.
 */
import { Html, esc } from './html.js';

export interface Bar {
  label: string;
  value: number;
  /** A second value stacked on top (e.g. ignored over queued). */
  stacked?: number;
}

export interface BarChartOptions {
  title: string;
  /** A horizontal line (e.g. the burst or the budget), labelled. */
  limit?: { value: number; label: string };
  unit?: string;
  width?: number;
  height?: number;
}

export function barChart(bars: readonly Bar[], options: BarChartOptions): Html {
  const width = options.width ?? 640;
  const height = options.height ?? 180;
  const left = 44;
  const bottom = 28;
  const top = 18;
  const plotW = width - left - 8;
  const plotH = height - top - bottom;
  const max = Math.max(1, options.limit?.value ?? 0, ...bars.map((bar) => bar.value + (bar.stacked ?? 0)));
  const y = (value: number): number => top + plotH - (value / max) * plotH;
  const step = bars.length > 0 ? plotW / bars.length : plotW;
  const barW = Math.max(1, Math.min(40, step * 0.7));
  const unit = options.unit ? ` ${options.unit}` : '';
  const parts: string[] = [];
  parts.push(`<text x="${left}" y="12" class="chart-title">${esc(options.title)}</text>`);
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" class="axis"/>`);
  parts.push(`<text x="${left - 4}" y="${top + 4}" class="tick" text-anchor="end">${esc(fmt(max))}</text>`);
  parts.push(`<text x="${left - 4}" y="${top + plotH}" class="tick" text-anchor="end">0</text>`);
  const labelEvery = Math.max(1, Math.ceil(bars.length / 12));
  bars.forEach((bar, i) => {
    const x = left + i * step + (step - barW) / 2;
    const h = (bar.value / max) * plotH;
    parts.push(`<rect x="${x.toFixed(1)}" y="${y(bar.value).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" class="bar"><title>${esc(bar.label)}: ${esc(fmt(bar.value))}${esc(unit)}</title></rect>`);
    if (bar.stacked) {
      const h2 = (bar.stacked / max) * plotH;
      parts.push(`<rect x="${x.toFixed(1)}" y="${(y(bar.value) - h2).toFixed(1)}" width="${barW.toFixed(1)}" height="${h2.toFixed(1)}" class="bar2"><title>${esc(bar.label)}: ${esc(fmt(bar.stacked))}${esc(unit)} (stacked)</title></rect>`);
    }
    if (i % labelEvery === 0) parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${height - 10}" class="tick" text-anchor="middle">${esc(bar.label)}</text>`);
  });
  if (options.limit) {
    const ly = y(options.limit.value).toFixed(1);
    parts.push(`<line x1="${left}" y1="${ly}" x2="${left + plotW}" y2="${ly}" class="limit"/><text x="${left + plotW}" y="${Number(ly) + 11}" class="tick" text-anchor="end">${esc(options.limit.label)}</text>`);
  }
  if (bars.length === 0) parts.push(`<text x="${left + plotW / 2}" y="${top + plotH / 2}" class="tick" text-anchor="middle">no data</text>`);
  return new Html(`<svg class="chart" role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`);
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
