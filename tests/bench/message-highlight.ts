/**
 * The hex highlight of a decoded message spanning 1,000 chunks (a figure, not pass/fail): `npx tsx
 * tests/bench/message-highlight.ts`. Writes a capture holding a 1,000-chunk message (interleaved with the other
 * direction's chunks) and a decoded message whose spans and a field cover it, reopens it in an engine, and times what
 * the workbench does when that message is selected and a field clicked: `locateSpans`, the chunk reads and the
 * assembling (renderer/src/lib/message-loader.ts), then the field's ranges (message-bytes.ts). Goal: under 100 ms.
 * In-process (no WebSocket): the transport's cost is the same as for any read of that size.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Engine } from "../../main/engine/engine.ts";
import { CaptureWriter } from "../../main/recording/capture-writer.ts";
import type { NewTimelineEvent, Span, TimelineEvent } from "../../preload/timeline.ts";
import { rangesOf } from "../../renderer/src/lib/message-bytes.ts";
import { loadMessageBytes } from "../../renderer/src/lib/message-loader.ts";

const CHUNKS = 1000;
const CHUNK_BYTES = 512;
const RUNS = 20;

const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-bench-highlight-"));
try {
  const file = path.join(workspace, "highlight.wscap");
  const writer = await CaptureWriter.create(file, { timeOrigin: Date.now(), kind: "client", name: "bench" });
  const events: NewTimelineEvent[] = [{ kind: "lifecycle", t: 0, conn: 1, event: "connected", detail: "bench" }];
  for (let i = 0; i < CHUNKS; i++) {
    events.push({ kind: "data", t: 10 + 2 * i, conn: 1, dir: "in", data: new Uint8Array(CHUNK_BYTES).fill(i & 0xff) });
    events.push({ kind: "data", t: 11 + 2 * i, conn: 1, dir: "out", data: new Uint8Array(16) });
  }
  const spans: Span[] = [{ dir: "in", offset: 0, length: CHUNKS * CHUNK_BYTES }];
  const field: Span[] = [{ dir: "in", offset: 100, length: (CHUNKS - 1) * CHUNK_BYTES }];
  events.push({
    kind: "log",
    t: 10 + 2 * CHUNKS,
    conn: 1,
    level: "info",
    text: "a big message",
    fields: { body: "…" },
    spans,
    fieldSpans: { body: field },
  });
  events.forEach((e, seq) => writer.append({ ...e, seq }));
  await writer.close();

  const engine = await Engine.open({ workspaceRoot: workspace });
  try {
    const info = await engine.openRecording({ path: file });
    const read = (from: number, count: number): Promise<{ events: TimelineEvent[]; total: number }> =>
      engine.readTimeline({ session: info.id, from, count });
    const locate = async (s: Span[]) => ({
      ok: true as const,
      value: await engine.locateSpans({ session: info.id, conn: 1, spans: s }),
    });
    const times: number[] = [];
    let bytes = 0;
    for (let run = 0; run < RUNS; run++) {
      const start = performance.now();
      const loaded = await loadMessageBytes(locate, read, spans);
      if (!loaded.ok) throw new Error(loaded.message);
      const ranges = rangesOf(field, loaded.bytes.segments);
      times.push(performance.now() - start);
      bytes = loaded.bytes.data.length;
      if (ranges.length !== 1) throw new Error(`expected one highlighted range, got ${ranges.length}`);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    console.log(
      `hex highlight of a message over ${CHUNKS.toLocaleString()} chunks (${bytes.toLocaleString()} bytes): ` +
        `median ${median.toFixed(1)} ms, worst ${times[times.length - 1]!.toFixed(1)} ms over ${RUNS} runs (goal < 100 ms)`,
    );
  } finally {
    await engine.close();
  }
} finally {
  fs.rmSync(workspace, { recursive: true, force: true });
}
