/**
 * Driving an interactive program: a ProcessProtocol for a process session running `bc -q`, the calculator. Once
 * the child runs it sends the first expression to its stdin; each answer line on its stdout is logged with its
 * question and the next expression goes out; after the last answer it closes bc's stdin, and bc exits.
 *
 * The shape of any request/answer conversation with a program over its stdio (`python3 -i`, `sqlite3`, a REPL):
 * change `expressions`, and `answerReceived` for what to do with each answer.
 */
import { ProcessProtocol, type Bytes, type ProcessExitReason } from "wirescope";

/** Sends bc one expression at a time and logs each answer. */
export class BcDriver extends ProcessProtocol {
  /** What to ask, in order. Each must print exactly one line (bc cuts lines over 70 characters with "\"). */
  expressions = ["2+3", "2^64", "scale=10; 1/3", "sqrt(144)"];
  /** Plain fields (not #private): hot reload keeps instances and their state. */
  private asked = 0;
  private pending = "";

  override connectionMade(): void {
    this.askNext();
  }

  /** bc's stdout: complete lines are answers, in the order of the questions. */
  override outReceived(data: Bytes): void {
    this.pending += Buffer.from(data).toString("utf8");
    for (let end = this.pending.indexOf("\n"); end >= 0; end = this.pending.indexOf("\n")) {
      const answer = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 1);
      this.answerReceived(this.expressions[this.asked - 1] ?? "?", answer);
      this.askNext();
    }
  }

  /** Called with each answer and its question. The default logs "2^64 = 18446744073709551616". */
  answerReceived(expression: string, answer: string): void {
    this.log.info("{expression} = {answer}", { expression, answer });
  }

  /** bc complains on stderr ("(standard_in) 1: syntax error"): logged as a warning. */
  override errReceived(data: Bytes): void {
    this.log.warn("bc: {text}", { text: Buffer.from(data).toString("utf8").trim() });
  }

  override processEnded(reason: ProcessExitReason): void {
    this.log.info("bc ended: {how}", { how: reason.message, code: reason.exitCode, signal: reason.signal });
  }

  /** Sends the next expression, or closes bc's stdin once all were answered. */
  private askNext(): void {
    const expression = this.expressions[this.asked];
    if (expression === undefined) {
      this.transport.closeStdin();
      return;
    }
    this.asked += 1;
    this.transport.write(Buffer.from(`${expression}\n`, "utf8"));
  }
}

export default BcDriver;
