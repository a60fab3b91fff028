/**
 * CPU time of another process, for benches that measure a server or a proxy in a process of its own: user + system
 * seconds of every thread, and of its children that ended (a forking relay's per-connection processes), from
 * /proc/<pid>/stat (fields 14 to 17, in clock ticks). Linux only; steadier than a rate on a busy machine.
 */
import * as fs from "node:fs";

/** Clock ticks per second (CLK_TCK): 100 on Linux. */
const TICKS = 100;

export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) / TICKS;
}
