/**
 * The error every capture parser throws when a file can't be read as a pcap or pcapng capture: wrong magic, a block
 * whose length can't be right, a packet that points at an interface that was never described. Its message names
 * the byte offset and says what was wrong, so that a person can tell a corrupt file from the wrong file.
 */
import type { ErrorCode } from "../../preload/errors.ts";

/** Thrown by the capture readers (capture-reader.ts and its pcap / pcapng parts); crosses the contract as "bad-capture". */
export class CaptureFormatError extends Error {
  readonly code = "bad-capture" satisfies ErrorCode;
  constructor(message: string) {
    super(message);
    this.name = "CaptureFormatError";
  }
}

/** "byte 1,204": how messages name a position in a file. */
export function atByte(offset: number): string {
  return `byte ${offset.toLocaleString("en-US")}`;
}

/** "1,204 bytes" / "1 byte". */
export function bytesCount(n: number): string {
  return `${n.toLocaleString("en-US")} byte${n === 1 ? "" : "s"}`;
}
