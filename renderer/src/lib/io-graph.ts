/**
 * The I/O graph's geometry (Wireshark's I/O Graphs): the engine's `ioGraph` buckets as per-second rates drawn as
 * polylines, the latency histogram as bars, and the mapping between a pixel and a time of the timeline (for a drag
 * that zooms and a click that jumps). Pure arithmetic; IOGraph.svelte draws what it returns.
 */
/** A chart's drawing area, in pixels. */
export interface Plot {
  width: number;
  height: number;
}

/** Per-second rates of `perBucket` counts over buckets of `bucketUs` microseconds. */
export function perSecond(perBucket: readonly number[], bucketUs: number): number[] {
  const scale = bucketUs > 0 ? 1_000_000 / bucketUs : 0;
  return perBucket.map((v) => v * scale);
}

/** A round upper bound for an axis (1, 2 or 5 times a power of ten) at or above `value`; 1 for nothing. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** The SVG `points` of `values` as a step-free polyline across `plot`, 0 at the bottom and `max` at the top. */
export function polylinePoints(values: readonly number[], max: number, plot: Plot): string {
  if (values.length === 0) return "";
  const step = values.length > 1 ? plot.width / (values.length - 1) : 0;
  return values
    .map((v, i) => `${round(i * step)},${round(plot.height - (Math.min(v, max) / max) * plot.height)}`)
    .join(" ");
}

/** The time (µs of the timeline) under pixel `x` of a plot showing [from, to]. */
export function timeAt(x: number, plot: Plot, from: number, to: number): number {
  const f = plot.width > 0 ? Math.max(0, Math.min(1, x / plot.width)) : 0;
  return from + f * (to - from);
}

/** The pixel of time `t` on a plot showing [from, to]. */
export function xOf(t: number, plot: Plot, from: number, to: number): number {
  return to > from ? ((t - from) / (to - from)) * plot.width : 0;
}

/** A bar of the latency histogram. */
export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
  /** "1–2 ms: 14" for its tooltip. */
  label: string;
}

/**
 * The histogram's bars: `counts[i]` responses took [edgesUs[i], edgesUs[i+1]) µs. Bars are equally wide (the edges
 * are usually logarithmic), as tall as their count against the largest.
 */
export function histogramBars(
  edgesUs: readonly number[],
  counts: readonly number[],
  plot: Plot,
  format: (us: number) => string,
): Bar[] {
  const n = counts.length;
  if (n === 0) return [];
  const top = Math.max(...counts, 1);
  const width = plot.width / n;
  return counts.map((c, i) => {
    const height = (c / top) * plot.height;
    const lo = edgesUs[i];
    const hi = edgesUs[i + 1];
    const range = lo === undefined ? "" : hi === undefined ? `≥ ${format(lo)}` : `${format(lo)}–${format(hi)}`;
    return {
      x: round(i * width),
      y: round(plot.height - height),
      width: round(width),
      height: round(height),
      label: `${range}: ${c}`,
    };
  });
}

/** The pixel of latency `us` on the histogram: where it falls among the edges, linearly within its bucket. */
export function histogramX(us: number, edgesUs: readonly number[], plot: Plot): number {
  const n = edgesUs.length - 1;
  if (n <= 0) return 0;
  const width = plot.width / n;
  for (let i = 0; i < n; i++) {
    const lo = edgesUs[i]!;
    const hi = edgesUs[i + 1]!;
    if (us < hi) return round((i + Math.max(0, (us - lo) / (hi - lo))) * width);
  }
  return plot.width;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
