/**
 * Re-splitting a conversation's byte stream at random points, to shake out framing bugs: a protocol that
 * decodes the same messages whatever the chunking is right; one that assumes "one chunk, one message" is not.
 *
 * Everything here is pure and reproducible: the same seed and run number give the same cuts.
 */
import type { Conversation, ConversationEvent } from "../interchange/conversation.ts";
import { seededRandom } from "./seeded-random.ts";

/** The largest chunk a re-split makes ("a few KB"). */
export const MAX_CHUNK = 4096;

/** The generator of re-split run `run` (from 1) of a decode seeded with `seed`: each run reproducible alone. */
export function runRandom(seed: number, run: number): () => number {
  return seededRandom((seed ^ Math.imul(run, 0x9e3779b1)) >>> 0);
}

/** A chunk length: often tiny (1-8 bytes, where framing bugs hide), sometimes mid-sized, sometimes up to MAX_CHUNK. */
function chunkLength(random: () => number): number {
  const kind = random();
  const limit = kind < 0.4 ? 8 : kind < 0.75 ? 256 : MAX_CHUNK;
  return 1 + Math.floor(random() * limit);
}

type DataEvent = Extract<ConversationEvent, { kind: "data" }>;

/**
 * The same conversation with each side's bytes cut at other points: the recorded chunks one side sent at the same
 * time (consecutive, up to the other side's next bytes, a FIN or a RST) are joined and cut again into chunks of 1
 * byte to MAX_CHUNK bytes, so recorded chunks are split and, when they arrived together, merged. Chunks recorded
 * at different times are never merged: delivering a byte later than it came could let a protocol's timer fire
 * between them where it did not in the recording (and the other way round), which is not a framing bug. The
 * bytes, their order, their times and everything else stay the same.
 */
export function resplitConversation(conversation: Conversation, random: () => number): Conversation {
  const events: ConversationEvent[] = [];
  let run: DataEvent[] = [];
  const flush = () => {
    if (run.length > 0) events.push(...cutRun(run, random));
    run = [];
  };
  for (const e of conversation.events) {
    if (e.kind === "data" && (run.length === 0 || (run[0]!.from === e.from && run[0]!.t === e.t))) {
      run.push(e);
      continue;
    }
    if (e.kind === "note") {
      events.push(e); // A note doesn't separate bytes: it is kept, before the run it fell in.
      continue;
    }
    flush();
    if (e.kind === "data") run.push(e);
    else events.push(e);
  }
  flush();
  events.sort((a, b) => a.t - b.t); // stable: a note stays before the bytes of its time
  return { ...conversation, events };
}

/** One side's consecutive chunks of one time, joined and cut again. */
function cutRun(run: readonly DataEvent[], random: () => number): DataEvent[] {
  const { from, t } = run[0]!;
  const joined = run.length === 1 ? run[0]!.data : new Uint8Array(Buffer.concat(run.map((e) => e.data)));
  const out: DataEvent[] = [];
  for (let start = 0; start < joined.byteLength;) {
    const end = Math.min(joined.byteLength, start + chunkLength(random));
    out.push({ t, kind: "data", from, data: joined.subarray(start, end) });
    start = end;
  }
  return out;
}

/** What a decode run produced that re-split runs are compared on: a message's text and fields. */
export interface DecodedMessage {
  text: string;
  fields: Record<string, unknown>;
}

/** How quote() writes characters that would not show. */
const ESCAPES: Record<string, string> = { "\r": "\\r", "\n": "\\n", "\t": "\\t", "'": "\\'", "\\": "\\\\" };

/** 'GET foo\r\n': shortened to 80 characters, control characters written as escapes. */
function quote(text: string): string {
  const short = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  let escaped = "";
  for (const c of short) {
    const code = c.charCodeAt(0);
    escaped += ESCAPES[c] ?? (code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : c);
  }
  return `'${escaped}'`;
}

/**
 * The first difference between what the recorded chunking decoded (`expected`) and what a re-split run decoded
 * (`actual`), in words ("message 12 differs: expected 'GET foo', got 'GE'"); null when they are the same. Messages
 * are numbered from 1; times are not compared.
 */
export function firstDifference(expected: readonly DecodedMessage[], actual: readonly DecodedMessage[]): string | null {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = actual[i];
    if (e === undefined) return `message ${i + 1} is extra: got ${quote(a!.text)} after the last expected one`;
    if (a === undefined) return `message ${i + 1} is missing: expected ${quote(e.text)}, got nothing more`;
    if (e.text !== a.text) return `message ${i + 1} differs: expected ${quote(e.text)}, got ${quote(a.text)}`;
    const ef = JSON.stringify(e.fields);
    const af = JSON.stringify(a.fields);
    if (ef !== af) return `message ${i + 1} (${quote(e.text)}) differs in its fields: expected ${ef}, got ${af}`;
  }
  return null;
}
