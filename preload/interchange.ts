/**
 * The shapes of what the interchange commands answer (preload/contract.ts's importCapture, replayReport, decode):
 * the conversations of an imported capture, a replay's exchanges and report, a re-split's report. Depends on zod
 * only, as the contract does, which re-exports them.
 */
import { z } from "zod";

const Bytes = z.instanceof(Uint8Array);

/** A TCP conversation found in an imported capture file. */
export const ConversationSummary = z.object({
  /** Its number in the capture, from 1, in the order conversations began. */
  id: z.number(),
  /** "192.168.0.2:51234" — the side that sent the first SYN (or, without a handshake, the first data). */
  client: z.string(),
  server: z.string(),
  /** Wall-clock ms of its first packet, and how long it lasted. */
  startMs: z.number(),
  durationMs: z.number(),
  packets: z.number(),
  bytesToServer: z.number(),
  bytesToClient: z.number(),
  /** Whether the capture holds its whole life: the handshake and a close (FIN from both sides, or a RST). */
  complete: z.boolean(),
  /** What the reassembly met and what it means ("3 retransmitted segments dropped", "412 bytes missing at ..."). */
  notes: z.array(z.string()),
});
export type ConversationSummary = z.infer<typeof ConversationSummary>;

/** Where bytes a report carries lie in the whole, when it carries only a window of them. */
export const BytesWindow = z.object({
  /** Offset in the whole of the first byte carried. */
  offset: z.number(),
  /** The whole's length in bytes. */
  length: z.number(),
});
export type BytesWindow = z.infer<typeof BytesWindow>;

/**
 * One exchange of a replay: what was sent, what the recording answered, what the peer answers now. A report
 * carries at most 64 KiB of each (main/engine/replay.ts REPORT_BYTES): a longer one is a window, which includes the
 * first difference, and its `...Window` field says where it lies in the whole.
 */
export const ReplayExchange = z.object({
  index: z.number(),
  /** The bytes sent in this exchange (or a window of them: see `sentWindow`). */
  sent: Bytes,
  /** What the other side answered in the recording, and now (or windows of them). */
  expected: Bytes,
  actual: Bytes,
  same: z.boolean(),
  /** Offset in the whole answers of the first byte that differs (or where one ends early); null when the same. */
  firstDifference: z.number().nullable(),
  /** Present when `sent`, `expected` or `actual` is a window of longer bytes; absent when it is whole. */
  sentWindow: BytesWindow.optional(),
  expectedWindow: BytesWindow.optional(),
  actualWindow: BytesWindow.optional(),
});
export type ReplayExchange = z.infer<typeof ReplayExchange>;

export const ReplayReport = z.object({
  state: z.enum(["running", "done", "failed"]),
  /** Why it failed ("ConnectionRefusedError: ..."). */
  error: z.string().optional(),
  exchanges: z.array(ReplayExchange),
  same: z.number(),
  differing: z.number(),
});
export type ReplayReport = z.infer<typeof ReplayReport>;

export const ResplitReport = z.object({
  runs: z.number(),
  seed: z.number(),
  /** Whether every re-split run decoded exactly what the recorded chunking did. */
  consistent: z.boolean(),
  /** The runs that decoded something else, and the first difference of each. */
  mismatches: z.array(z.object({ run: z.number(), message: z.string() })),
});
export type ResplitReport = z.infer<typeof ResplitReport>;
