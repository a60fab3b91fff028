/**
 * What the host keeps of a worker's unfinished turn: the partial batches it posted mid-turn (see Batch.partial),
 * held until the turn ends and then applied in order with its last batch, or applied when the worker dies (what
 * its code did before it spun is not lost).
 *
 * Guarantees: `take()` gives the kept batches in the order they were kept; what is kept never passes the turn's
 * bounds (messages.ts MAX_TURN_OPS and MAX_TURN_BYTES): the first partial batch past them is dropped and marks the
 * turn `overflowed`, which only `reset()` clears. One per SandboxGroup, for its current worker.
 */
import { MAX_TURN_BYTES, MAX_TURN_OPS, type Batch, type FromWorker, type UnsentBatch } from "./messages.ts";

export class WorkerTurn {
  /** Partial batches of the current turn, in the order they came. */
  private batches: Batch<FromWorker>[] = [];
  /** The operations and bytes counted this turn, against MAX_TURN_OPS and MAX_TURN_BYTES. */
  private ops = 0;
  private bytes = 0;
  private passedBounds = false;

  /** The turn passed its bounds: the worker is being stopped, and nothing more of it is applied. */
  get overflowed(): boolean {
    return this.passedBounds;
  }

  /** Operations the turn may still send within its bounds (negative once past them). */
  get opsLeft(): number {
    return MAX_TURN_OPS - this.ops;
  }

  /** Bytes the turn may still send within its bounds (negative once past them). */
  get bytesLeft(): number {
    return MAX_TURN_BYTES - this.bytes;
  }

  /**
   * Keeps a partial batch until its turn ends. Returns false, keeping nothing, when the batch takes the turn past
   * its bounds: the caller stops the worker as hung.
   */
  keep(batch: Batch<FromWorker>): boolean {
    this.ops += batch.ops.length;
    this.bytes += batch.bytes?.byteLength ?? 0;
    if (this.ops <= MAX_TURN_OPS && this.bytes <= MAX_TURN_BYTES) {
      this.batches.push(batch);
      return true;
    }
    // What the turn sent within its bounds is applied when the worker dies (as after a hang); the rest is dropped.
    this.passedBounds = true;
    return false;
  }

  /**
   * Keeps what a silent worker had queued and not sent (read through the inspector: UNSENT_GLOBAL, within the
   * turn's bounds) as its turn's last batch. JSON that does not parse is ignored.
   */
  keepUnsent(json: string): void {
    let unsent: UnsentBatch<FromWorker>;
    try {
      unsent = JSON.parse(json) as UnsentBatch<FromWorker>;
    } catch {
      return;
    }
    const bytes = Buffer.from(unsent.bytes, "base64");
    const copy = new Uint8Array(bytes.byteLength); // its own ArrayBuffer: byte operations' offsets count from 0.
    copy.set(bytes);
    this.batches.push({ ops: unsent.ops, bytes: copy.buffer, partial: true });
  }

  /** The partial batches kept so far, in order; the turn starts over (an overflow stays marked). */
  take(): Batch<FromWorker>[] {
    const batches = this.batches;
    this.batches = [];
    this.ops = 0;
    this.bytes = 0;
    return batches;
  }

  /** Forgets everything, overflow included: the worker is gone. */
  reset(): void {
    this.take();
    this.passedBounds = false;
  }
}
