/**
 * Short, stable forms of byte counts and rates for dense rows ("1.2 KiB", "340 B/s"). Binary units, as a protocol
 * developer counts buffers; one decimal below 10 so that a live rate doesn't jitter in width.
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** A byte count: "0 B", "512 B", "1.2 KiB", "34 MiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1) return "0 B";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** A rate in bytes per second: "0 B/s", "1.2 KiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** "1 connection", "3 connections". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** A message from the engine or a schema, as a sentence: first letter capitalised. */
export function sentence(message: string): string {
  return message.length === 0 ? message : message[0]!.toUpperCase() + message.slice(1);
}
