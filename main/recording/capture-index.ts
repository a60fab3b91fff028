/**
 * The sparse index of one capture file's records (format in capture-format.ts): a writer notes every record it
 * appends, a reader walks forward from the nearest mark.
 */

/** Keep an index mark every this many records ... */
const MARK_EVERY = 256;
/** ... and at the first record after this many bytes since the last mark, so a seek never walks more than ~1 MiB. */
const MARK_BYTES = 1024 * 1024;

/**
 * Where records are in one capture file, sparsely: (seq, offset) marks in a growable Float64Array, never one object
 * per record. A writer notes every record it appends and commits them when they reach the file; a reader sharing
 * the same index (CaptureReader.follow) reads exactly the committed ones.
 */
export class CaptureIndex {
  /** Records in the file, readable. */
  count = 0;
  /** Offset just past the last readable record. */
  end: number;
  /** Records noted so far (committed or still in a writer's buffer). */
  private noted = 0;
  /** Pairs [seq, offset, seq, offset, ...]. */
  private marks = new Float64Array(512);
  private markCount = 0;
  private lastMarkOffset = -Infinity;

  constructor(
    /** Offset of the first record (just past the header). */
    readonly firstRecord: number,
  ) {
    this.end = firstRecord;
  }

  /** Called for every record, in order, with its offset. O(1) amortized. */
  note(offset: number): void {
    const seq = this.noted++;
    if (seq % MARK_EVERY !== 0 && offset - this.lastMarkOffset < MARK_BYTES) return;
    if (this.markCount * 2 === this.marks.length) {
      const grown = new Float64Array(this.marks.length * 2);
      grown.set(this.marks);
      this.marks = grown;
    }
    this.marks[this.markCount * 2] = seq;
    this.marks[this.markCount * 2 + 1] = offset;
    this.markCount += 1;
    this.lastMarkOffset = offset;
  }

  /** Makes the first `count` records, ending at `end`, readable. */
  commit(count: number, end: number): void {
    this.count = count;
    this.end = end;
  }

  /** The mark at or before `seq` (seq must be < the records noted): where a reader starts walking. */
  locate(seq: number): { seq: number; offset: number } {
    let lo = 0;
    let hi = this.markCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.marks[mid * 2]! <= seq) lo = mid;
      else hi = mid - 1;
    }
    return { seq: this.marks[lo * 2]!, offset: this.marks[lo * 2 + 1]! };
  }
}
