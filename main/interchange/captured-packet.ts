/**
 * What the capture readers hand on: one packet as the file stored it, and the tally of what an import skipped.
 */

/** One packet read from a pcap or pcapng file. */
export interface CapturedPacket {
  /** Unix time of capture in µs (the interface's resolution and offset applied). */
  timeMicros: number;
  /** The link type of its interface (LINKTYPE_* from the tcpdump.org registry: 1 Ethernet, 276 Linux SLL2, ...). */
  linkType: number;
  /**
   * The bytes captured: a view of the reader's buffer, valid as long as the caller keeps it (never reused).
   * May be shorter than `originalLength` when the capture had a snapshot length.
   */
  data: Uint8Array;
  /** The packet's length on the wire. */
  originalLength: number;
}

/**
 * Counts what an import met but did not use ("12 non-TCP packets") and keeps one-off remarks, so that a file with a
 * million ARP packets gives one line, not a million. Owned by one import; `list()` is its warnings, in first-seen order.
 */
export class WarningTally {
  private readonly counts = new Map<string, { n: number; describe: (n: number) => string }>();
  /** Keys of counts and one-off texts, in the order first met. */
  private readonly order: ({ key: string } | { text: string })[] = [];

  /** Counts one more of `key`; `describe(n)` renders the line once the import is over. */
  count(key: string, describe: (n: number) => string): void {
    const entry = this.counts.get(key);
    if (entry) entry.n += 1;
    else {
      this.counts.set(key, { n: 1, describe });
      this.order.push({ key });
    }
  }

  /** A remark made once ("the capture ends in the middle of a packet ..."). */
  add(text: string): void {
    this.order.push({ text });
  }

  /** The warnings, in the order first met. */
  list(): string[] {
    return this.order.map((item) => {
      if ("text" in item) return item.text;
      const entry = this.counts.get(item.key)!;
      return entry.describe(entry.n);
    });
  }
}

/** "1 packet" / "12 packets". */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}
