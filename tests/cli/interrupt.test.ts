/**
 * One Ctrl+C stops the CLI's long reads: `import`, `decode` and `export` of a capture big enough to take seconds to
 * read (a few hundred MB, written by big-capture.ts) are sent SIGINT once the file is being read, and exit 130 within
 * seconds, saying they were stopped, with no output file or capture left behind.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBigCapture } from "./big-capture.ts";
import { startCli, useWorkspace, type BackgroundCli } from "./cli-process.ts";

/**
 * Payload in each big capture: here, reading one takes 5 to 10 s. A read that ignored the stop would run to its end
 * and exit 0 with its output: the tests tell a stop from a finished read by the exit code and what is left, not by
 * time (the machine may be slow).
 */
const BIG_BYTES = 250 * 1024 * 1024;
/** How long after SIGINT the CLI is waited for before the test gives up on it. */
const STOP_BOUND_MS = 60_000;

const ws = useWorkspace();
let folder: string;
let pcapng: string;
let pcap: string;

beforeAll(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-big-"));
  pcapng = path.join(folder, "big.pcapng");
  pcap = path.join(folder, "big.pcap");
  writeBigCapture(pcapng, { format: "pcapng", bytes: BIG_BYTES });
  writeBigCapture(pcap, { format: "pcap", bytes: BIG_BYTES });
}, 120_000);
afterAll(() => fs.rmSync(folder, { recursive: true, force: true }));

/**
 * Resolves once the CLI process is reading `file`: its /proc fd table has the file open with the file position past
 * 0 (the first look at a file's magic number reads at an offset and leaves the position at 0).
 */
async function readStarted(cli: BackgroundCli, file: string): Promise<void> {
  const proc = `/proc/${cli.child.pid}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const reading = fs.readdirSync(`${proc}/fd`).some((fd) => {
      try {
        if (fs.readlinkSync(`${proc}/fd/${fd}`) !== file) return false;
        return Number(/^pos:\s+(\d+)/m.exec(fs.readFileSync(`${proc}/fdinfo/${fd}`, "utf8"))?.[1]) > 0;
      } catch {
        return false; // closed meanwhile
      }
    });
    if (reading) return;
    if (cli.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the CLI never read ${file}; stdout: ${cli.stdout}; stderr: ${cli.stderr}`);
}

/** Sends one SIGINT once `file` is being read; resolves with the result. */
async function interruptWhileReading(args: string[], file: string) {
  const cli = startCli(args, { workspace: ws.path });
  await readStarted(cli, file);
  return cli.stop("SIGINT", STOP_BOUND_MS);
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).flatMap((entry) => {
    if (!entry.isFile()) return [];
    return [path.relative(dir, path.join(entry.parentPath, entry.name))];
  });
}

describe("one Ctrl+C during a long read", { timeout: STOP_BOUND_MS + 30_000 }, () => {
  it("stops `import` of a big pcapng: exit 130, said on stderr, nothing listed", async () => {
    const r = await interruptWhileReading(["import", pcapng], pcapng);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^wirescope: stopped by Ctrl\+C \(SIGINT\) before the command was done$/m);
    expect(r.stdout).not.toMatch(/TCP conversation/);
    expect(filesUnder(ws.path).filter((f) => f.endsWith(".wscap"))).toEqual([]);
  });

  it("stops `decode` of a big pcap: exit 130, and no decode session's capture is left", async () => {
    const r = await interruptWhileReading(["decode", pcap, "--protocol", "template:line"], pcap);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^wirescope: stopped by Ctrl\+C \(SIGINT\) before the command was done$/m);
    expect(r.stderr).not.toMatch(/^capture: /m);
    expect(filesUnder(ws.path).filter((f) => f.endsWith(".wscap"))).toEqual([]);
  });

  it("stops `export` of a big pcap: exit 130, and neither -o nor the exports folder holds a file", async () => {
    const out = path.join(ws.path, "out.pcapng");
    const r = await interruptWhileReading(["export", pcap, "-o", out], pcap);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^wirescope: stopped by Ctrl\+C \(SIGINT\) before the command was done$/m);
    expect(fs.existsSync(out)).toBe(false);
    expect(filesUnder(ws.path).filter((f) => f.endsWith(".pcapng") || f.endsWith(".wscap"))).toEqual([]);
  });
});
