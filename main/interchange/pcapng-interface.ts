/**
 * A pcapng Interface Description Block: the link type of the packets that refer to it, and how to read their
 * timestamps (if_tsresol: a power of 10 or of 2; if_tsoffset: seconds to add). Spec: draft-ietf-opsawg-pcapng,
 * section 4.2.
 */
import { atByte, CaptureFormatError } from "./capture-error.ts";

const OPTION_END = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

/** What packets need from their interface. Owned by the pcapng parser, one per IDB of the current section. */
export interface PcapngInterface {
  linkType: number;
  /** 0: no limit. */
  snapLength: number;
  /** Timestamp units: 10^-exponent s when `binary` is false, 2^-exponent s when true (default 10^-6: µs). */
  binary: boolean;
  exponent: number;
  /** Seconds added to every timestamp (if_tsoffset). */
  offsetSeconds: number;
}

/** Reads an IDB (its whole bytes, type and lengths included) of a section in byte order `le` that began at `at`. */
export function interfaceFromBlock(bytes: Uint8Array, le: boolean, at: number): PcapngInterface {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const iface: PcapngInterface = {
    linkType: v.getUint16(8, le),
    snapLength: v.getUint32(12, le),
    binary: false,
    exponent: 6,
    offsetSeconds: 0,
  };
  const end = bytes.byteLength - 4;
  let offset = 16;
  while (offset + 4 <= end) {
    const code = v.getUint16(offset, le);
    const length = v.getUint16(offset + 2, le);
    const value = offset + 4;
    if (code === OPTION_END) break;
    if (value + length > end) {
      throw new CaptureFormatError(
        `Interface Description Block at ${atByte(at)} has an option at ${atByte(at + offset)} that runs past the block's end: the file is corrupt`,
      );
    }
    if (code === IF_TSRESOL && length >= 1) {
      const resolution = v.getUint8(value);
      iface.binary = (resolution & 0x80) !== 0;
      iface.exponent = resolution & 0x7f;
    } else if (code === IF_TSOFFSET && length >= 8) {
      iface.offsetSeconds = Number(v.getBigInt64(value, le));
    }
    offset = value + Math.ceil(length / 4) * 4;
  }
  return iface;
}

/** A packet's timestamp (the two 32-bit halves of a count of `iface`'s units) as Unix µs. */
export function timestampMicros(iface: PcapngInterface, high: number, low: number): number {
  const offset = iface.offsetSeconds * 1_000_000;
  if (!iface.binary && iface.exponent === 6) return high * 0x1_0000_0000 + low + offset;
  const units = (BigInt(high) << 32n) | BigInt(low);
  if (iface.binary) return Number((units * 1_000_000n) >> BigInt(iface.exponent)) + offset;
  if (iface.exponent < 6) return Number(units * 10n ** BigInt(6 - iface.exponent)) + offset;
  return Number(units / 10n ** BigInt(iface.exponent - 6)) + offset;
}
