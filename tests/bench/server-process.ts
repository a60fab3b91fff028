/**
 * One of servers.ts's servers in a process of its own, for run.ts's measures with each server in its own process
 * (as twisted_lines.py runs Twisted's). Usage: `tsx server-process.ts <kind>`. Prints the port it listens on, then,
 * for each connection of a line counter, "lines=N seconds=S" when it closes (seconds from its first line), as
 * twisted_lines.py does. Ends when its stdin closes (the bench is done, or died).
 */
import { SERVER_KINDS, startServer, type Meter, type ServerKind } from "./servers.ts";

const kind = process.argv[2] as ServerKind;
if (!SERVER_KINDS.includes(kind)) throw new Error(`server-process: no server "${kind}": ${SERVER_KINDS.join(", ")}`);

function meter(): Meter {
  let count = 0;
  let start = 0;
  return {
    lines(n) {
      if (count === 0) start = performance.now();
      count += n;
    },
    closed() {
      const seconds = count === 0 ? 0 : (performance.now() - start) / 1000;
      process.stdout.write(`lines=${count} seconds=${seconds.toFixed(6)}\n`);
    },
  };
}

const server = await startServer(kind, meter);
process.stdout.write(`${server.port}\n`);
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
