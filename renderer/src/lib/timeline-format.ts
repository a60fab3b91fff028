/**
 * How a timeline event reads in one row of the grid: its time, its direction (or what happened), its length and a
 * preview. Pure; Timeline.svelte and the detail pane use it.
 */
import type { DataEvent, Direction, LogTimelineEvent, TimelineEvent } from "../../../preload/timeline.ts";
import { PREVIEW_BYTES, previewBytes, showControls } from "./bytes.ts";
import { fdLabel } from "./process-format.ts";

/** Seconds since the first event, with microseconds: "12.345678". Never negative (clock skew between sources). */
export function formatRelative(t: number, firstT: number): string {
  const us = Math.max(0, Math.round(t - firstT));
  return `${Math.floor(us / 1_000_000)}.${String(us % 1_000_000).padStart(6, "0")}`;
}

/**
 * Local wall-clock time with microseconds, "14:03:22.123456": `epochMs` is the wall-clock time of timeline time 0
 * (SessionInfo.epochMs), `t` the event's microseconds.
 */
export function formatAbsolute(epochMs: number, t: number): string {
  const totalUs = Math.round(epochMs * 1000 + t);
  const ms = Math.floor(totalUs / 1000);
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const frac = pad(((totalUs % 1_000_000) + 1_000_000) % 1_000_000, 6);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${frac}`;
}

/**
 * The direction column: "→" out, "←" in (a process's chunk with its pipe: "→ stdin", "← stdout", "← stderr"), the
 * lifecycle event's name, or the log level.
 */
export function directionLabel(e: TimelineEvent): string {
  switch (e.kind) {
    case "data": {
      const arrow = e.dir === "out" ? "→" : "←";
      const fd = fdLabel(e);
      return fd === null ? arrow : `${arrow} ${fd}`;
    }
    case "lifecycle":
      return e.event;
    case "log":
      return e.level;
  }
}

/** What the direction column's tooltip says of a chunk: "received", "sent", or which of a child's pipes it took. */
export function dataTitle(e: DataEvent): string {
  const fd = fdLabel(e);
  if (fd === null) return e.dir === "in" ? "received" : "sent";
  return e.dir === "in" ? `the child wrote it to its ${fd}` : `written to the child's ${fd}`;
}

/** A chunk's whole size in bytes, also when it was read as a preview (DataEvent.size). */
export function chunkSize(e: DataEvent): number {
  return e.size ?? e.data.byteLength;
}

/** Whether `e` is a chunk read as a preview and cut short: its `data` is not all its bytes. */
export function isCutChunk(e: TimelineEvent | null): e is DataEvent & { size: number } {
  return e?.kind === "data" && e.size !== undefined;
}

/** The length column: bytes of a chunk (the whole chunk's, for a preview); nothing for other events. */
export function lengthLabel(e: TimelineEvent): string {
  return e.kind === "data" ? String(chunkSize(e)) : "";
}

/**
 * The preview column: a chunk's printable ASCII (an ellipsis when there is more), a lifecycle's detail, a log's text (decoded messages can hold any
 * bytes: their control characters are shown as control pictures, not as boxes or nothing).
 */
export function previewLabel(e: TimelineEvent): string {
  switch (e.kind) {
    case "data":
      return previewBytes(e.data, PREVIEW_BYTES, chunkSize(e));
    case "lifecycle":
      return showControls(e.detail);
    case "log":
      return showControls(e.text.length > 300 ? e.text.slice(0, 300) + "…" : e.text);
  }
}

/** Whether the event reports something going wrong (shown in the danger colour). */
export function isTrouble(e: TimelineEvent): boolean {
  if (e.kind === "lifecycle") {
    return (
      e.event === "failed" ||
      e.event === "error" ||
      e.event === "protocol-error" ||
      e.event === "protocol-halted" ||
      e.event === "tls-failed" ||
      (e.event === "exited" && exitedBadly(e.fields))
    );
  }
  return e.kind === "log" && (e.level === "error" || e.level === "critical");
}

/** Whether an "exited" event's fields ({code, signal}) say the child failed: a non-zero code, or a signal. */
function exitedBadly(fields: Record<string, unknown> | undefined): boolean {
  const code = fields?.["code"];
  const signal = fields?.["signal"];
  return (typeof signal === "string" && signal !== "") || (typeof code === "number" && code !== 0);
}

/** "Connection 3", or "Session" for events of the session itself (conn 0). */
export function connectionLabel(conn: number): string {
  return conn === 0 ? "Session" : `Connection ${conn}`;
}

/** Which way a decoded message's bytes went (its first span's direction), or null when it names no bytes. */
export function messageDirection(e: LogTimelineEvent): Direction | null {
  return e.spans?.[0]?.dir ?? null;
}

/** A latency in microseconds, for people: "850 µs", "12.3 ms", "1.20 s". */
export function formatLatency(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** The Messages view's latency column: a paired response's latency; empty for anything else. */
export function latencyLabel(e: LogTimelineEvent): string {
  return e.pair?.latency !== undefined ? formatLatency(e.pair.latency) : "";
}
