/**
 * The contract's shapes for searching and drawing whole timelines from the engine's index: findTimeline's page,
 * ioGraph's series and latency distribution, locateSpans' pieces and messageAt's answer, and the Span a renderer
 * passes back. contract.ts builds its commands from them and re-exports them.
 */
import { z } from "zod";
import { text } from "./contract-text.ts";
import { MAX_FILTER_LENGTH } from "./filter-language.ts";

/** Spans one locateSpans call takes at most. */
export const MAX_LOCATE_SPANS = 64;
/** Matches one findTimeline call returns at most. */
export const MAX_FIND_LIMIT = 10_000;
/** Buckets of an I/O graph, at most. */
export const MAX_IO_BUCKETS = 2000;

/** A stream offset: bytes of that direction before it, from 0. */
export const StreamOffset = z.number().int("a stream offset is a whole number").min(0, "stream offsets count from 0");
/** A process session's pipe (0 stdin, 1 stdout, 2 stderr); absent for sockets. */
export const PipeFd = z.number().int().min(0).max(2, "a process's pipes are fd 0, 1 and 2").optional();

/** A run of one connection's stream bytes (preload/timeline.ts's Span). */
export const SpanShape = z
  .object({
    dir: z.enum(["in", "out"]),
    offset: StreamOffset,
    length: z.number().int().min(0, "a span's length is not negative"),
    fd: PipeFd,
  })
  .strict();

/** The filter text of findTimeline: preload/filter-language.ts reads it. */
export const filterText = text("the filter", MAX_FILTER_LENGTH);

export const FindResult = z.object({
  /** Ascending when forward, descending when backward. */
  seqs: z.array(z.number()),
  /** The seq to continue from; -1 when the whole timeline was looked at in that direction. */
  next: z.number(),
  /** Events looked at in this call. */
  scanned: z.number(),
  /** The timeline's length now. */
  total: z.number(),
});

const IoSeries = z.object({ bytes: z.array(z.number()), messages: z.array(z.number()) });

export const IoGraphResult = z.object({
  from: z.number(),
  to: z.number(),
  bucketUs: z.number(),
  in: IoSeries,
  out: IoSeries,
  latency: z.object({
    count: z.number(),
    p50: z.number().nullable(),
    p95: z.number().nullable(),
    p99: z.number().nullable(),
    edgesUs: z.array(z.number()),
    counts: z.array(z.number()),
  }),
});
export type IoGraphResult = z.infer<typeof IoGraphResult>;

export const LocateResult = z.object({
  pieces: z.array(z.object({ seq: z.number(), start: z.number(), end: z.number(), spanIndex: z.number() })),
});

export const MessageAtResult = z.object({ seq: z.number().nullable(), field: z.string().nullable() });
