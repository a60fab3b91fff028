import { describe, expect, it } from "vitest";
import { histogramBars, histogramX, niceCeiling, perSecond, polylinePoints, timeAt, xOf } from "./io-graph.ts";

describe("the I/O graph's geometry", () => {
  const plot = { width: 100, height: 50 };

  it("turns counts per bucket into rates per second", () => {
    expect(perSecond([10, 0, 5], 500_000)).toEqual([20, 0, 10]);
  });

  it("rounds an axis up to 1, 2 or 5 times a power of ten", () => {
    expect([0, 0.3, 1, 3, 7, 12, 4500].map(niceCeiling)).toEqual([1, 0.5, 1, 5, 10, 20, 5000]);
  });

  it("draws values from the bottom (0) to the top (max), across the width", () => {
    expect(polylinePoints([0, 5, 10], 10, plot)).toBe("0,50 50,25 100,0");
    expect(polylinePoints([], 10, plot)).toBe("");
  });

  it("maps pixels to times and back, for a drag that zooms and a click that jumps", () => {
    expect(timeAt(25, plot, 1000, 2000)).toBe(1250);
    expect(timeAt(-5, plot, 1000, 2000)).toBe(1000);
    expect(xOf(1750, plot, 1000, 2000)).toBe(75);
  });

  it("draws the latency histogram's bars against the largest count, and places a percentile among them", () => {
    const bars = histogramBars([0, 1000, 10_000], [2, 4], plot, (us) => `${us / 1000} ms`);
    expect(bars.map((b) => [b.x, b.height, b.label])).toEqual([
      [0, 25, "0 ms–1 ms: 2"],
      [50, 50, "1 ms–10 ms: 4"],
    ]);
    expect(histogramX(5500, [0, 1000, 10_000], plot)).toBe(75);
    expect(histogramX(50_000, [0, 1000, 10_000], plot)).toBe(100);
  });
});
