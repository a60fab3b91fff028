/**
 * `wirescope wrap`, the stdio tap, run as a real process: a test script plays an editor's LSP client against
 * Debian's pylsp, once directly and once through wrap, and the replies must be the same bytes; binary data and
 * stderr pass unchanged; the exit code is the command's; SIGTERM and SIGINT reach the command and the capture is
 * complete. Nothing of wrap's own may appear on stdout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../preload/timeline.ts";
import { messagesOf, spannedBytes, streamOf } from "../helpers/spans.ts";
import { BIN, capturePath, readCapture, REPO, startCli, useWorkspace } from "./cli-process.ts";

const ws = useWorkspace();
const PYLSP = "/usr/bin/pylsp";
const CLANGD = "/usr/bin/clangd";
/** How long one LSP conversation may take (pylsp starts jedi on the first hover). */
const LSP_TIMEOUT_MS = 30_000;

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
});

/** The bytes of connection 1 that went through the child's fd `fd`. */
function fdBytes(events: TimelineEvent[], fd: number): Buffer {
  return Buffer.concat(events.flatMap((e) => (e.kind === "data" && e.conn === 1 && e.fd === fd ? [e.data] : [])));
}

/**
 * Runs `wirescope wrap ...options -- ...argv` with `input` on its stdin, to its end; stdout as bytes. With
 * `holdStdinMs`, its stdin stays open that long after the input was written.
 */
async function runWrap(
  argv: string[],
  input: Buffer,
  { options = [], holdStdinMs = 0 }: { options?: string[]; holdStdinMs?: number } = {},
): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [BIN, "wrap", ...options, "--", ...argv], {
    cwd: REPO,
    env: { ...process.env, WIRESCOPE_WORKSPACE: ws.path },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.write(input);
  setTimeout(() => child.stdin.end(), holdStdinMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  return { stdout: Buffer.concat(out), stderr, code };
}

/** What an LSP conversation left: every byte the server wrote to stdout, what the client wrote, stderr, the exit. */
interface LspRun {
  stdout: Buffer;
  sent: Buffer;
  stderr: string;
  code: number | null;
}

/** The document an LSP conversation opens, and where it hovers. */
interface LspDocument {
  name: string;
  languageId: string;
  text: string;
  hover: { line: number; character: number };
}

const PYTHON_DOCUMENT: LspDocument = {
  name: "sample.py",
  languageId: "python",
  text: "import os\nsize = len([1, 2])\nprint(size, os.sep)\n",
  hover: { line: 1, character: 8 },
};

/**
 * Plays an editor against the server `argv` runs: initialize, initialized, didOpen (waiting for its diagnostics),
 * a hover, shutdown and exit, each request waiting for its answer, as an editor does.
 */
async function lspConversation(argv: string[], folder: string, document = PYTHON_DOCUMENT): Promise<LspRun> {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO,
    env: { ...process.env, WIRESCOPE_WORKSPACE: ws.path },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  const out: Buffer[] = [];
  const sent: Buffer[] = [];
  let stderr = "";
  let pending = Buffer.alloc(0);
  const waiters: { matches: (m: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    out.push(d);
    pending = Buffer.concat([pending, d]);
    for (;;) {
      const head = pending.indexOf("\r\n\r\n");
      if (head < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(pending.subarray(0, head).toString())?.[1]);
      if (pending.length < head + 4 + length) return;
      const message = JSON.parse(pending.subarray(head + 4, head + 4 + length).toString()) as Record<string, unknown>;
      pending = pending.subarray(head + 4 + length);
      for (const w of waiters.filter((w) => w.matches(message))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const send = (message: Record<string, unknown>): void => {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }));
    const frame = Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
    sent.push(frame);
    child.stdin.write(frame);
  };
  const answer = (matches: (m: Record<string, unknown>) => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} from ${argv.join(" ")}; stderr: ${stderr}`)), 15_000);
      waiters.push({ matches, resolve: () => (clearTimeout(timer), resolve()) });
    });

  const uri = `file://${folder}/${document.name}`;
  const { text, languageId } = document;
  send({ id: 1, method: "initialize", params: { processId: null, rootUri: `file://${folder}`, capabilities: {} } });
  await answer((m) => m.id === 1, "initialize result");
  send({ method: "initialized", params: {} });
  const diagnostics = answer((m) => m.method === "textDocument/publishDiagnostics", "diagnostics");
  send({
    method: "textDocument/didOpen",
    params: { textDocument: { uri, languageId, version: 1, text } },
  });
  await diagnostics;
  send({ id: 2, method: "textDocument/hover", params: { textDocument: { uri }, position: document.hover } });
  await answer((m) => m.id === 2, "hover result");
  send({ id: 3, method: "shutdown" });
  await answer((m) => m.id === 3, "shutdown result");
  send({ method: "exit" });
  child.stdin.end();
  const code = await closed;
  return { stdout: Buffer.concat(out), sent: Buffer.concat(sent), stderr, code };
}

/**
 * Each decoded message of connection 1 is tied to exactly one whole Content-Length frame: the client's messages'
 * spans, end to end, are all it wrote to the server's stdin, the server's all it wrote to its stdout; and each
 * response is paired with the request of its id, with the engine's latency.
 */
function expectFramesSpanned(events: TimelineEvent[]): void {
  const messages = messagesOf(events, 1);
  for (const [sender, dir] of [
    ["client", "out"],
    ["server", "in"],
  ] as const) {
    const sent = messages.filter((m) => m.fields["sender"] === sender);
    const frames = sent.map((m) => spannedBytes(events, 1, m.spans));
    expect(Buffer.concat(frames).equals(streamOf(events, 1, dir))).toBe(true);
    for (const frame of frames) {
      const body = frame.subarray(frame.indexOf("\r\n\r\n") + 4);
      const head = frame.subarray(0, frame.length - body.length).toString();
      expect(head).toMatch(/^([\w-]+: [^\r\n]*\r\n)*\r\n$/);
      expect(head).toMatch(new RegExp(`(^|\\n)Content-Length: ${body.length}\\r\\n`, "i"));
      expect(() => JSON.parse(body.toString())).not.toThrow();
    }
  }
  const requests = messages.filter((m) => m.pair?.role === "request" && m.fields["sender"] === "client");
  for (const request of requests) {
    const response = messages.find((m) => m.pair?.role === "response" && m.pair.key === request.pair!.key);
    expect(response?.fields["id"], `the response to ${request.text}`).toBe(request.fields["id"]);
    expect(response!.pair).toMatchObject({ request: request.seq, latency: response!.t - request.t });
  }
  expect(requests).toHaveLength(3);
}

/** Every event of the one capture in the workspace (found by listing: wrap's stderr may be closed). */
async function onlyCapture(): Promise<TimelineEvent[]> {
  const folder = path.join(ws.path, "captures");
  const files = fs.readdirSync(folder, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".wscap"));
  expect(files).toHaveLength(1);
  return readCapture(path.join(folder, files[0]!));
}

/** Whether process `pid` exists (signal 0 checks without sending). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("wirescope wrap", () => {
  it(
    "is invisible to an LSP client: pylsp's replies through it are byte for byte those without it, and recorded",
    async () => {
      if (!fs.existsSync(PYLSP)) {
        throw new Error("This test needs pylsp as a real server: apt-get install python3-pylsp (.ci/run does this).");
      }
      const folder = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-lsp-"));
      try {
        const direct = await lspConversation([PYLSP], folder);
        const wrapped = await lspConversation([process.execPath, BIN, "wrap", "--", PYLSP], folder);
        expect(direct.code, direct.stderr).toBe(0);
        expect(wrapped.code, wrapped.stderr).toBe(0);
        expect(direct.stdout.toString()).toContain('"id":2,"result":{"contents"');
        expect(wrapped.stdout.equals(direct.stdout)).toBe(true);
        const events = await readCapture(capturePath(wrapped.stderr));
        expect(fdBytes(events, 0).equals(wrapped.sent)).toBe(true);
        expect(fdBytes(events, 1).equals(wrapped.stdout)).toBe(true);
        expect(events.at(-1)).toMatchObject({ kind: "lifecycle", conn: 0, event: "closed" });
      } finally {
        fs.rmSync(folder, { recursive: true, force: true });
      }
    },
    2 * LSP_TIMEOUT_MS,
  );

  /**
   * Runs the LSP conversation with `server` directly, then through `wrap --protocol template:lsp`: the replies must
   * be the same bytes, and the capture must hold each message decoded, responses paired with their requests.
   */
  async function decodedThroughWrap(server: string[], document: LspDocument): Promise<void> {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "wirescope-lsp-"));
    try {
      const direct = await lspConversation(server, folder, document);
      const wrap = [process.execPath, BIN, "wrap", "--protocol", "template:lsp", "--", ...server];
      const wrapped = await lspConversation(wrap, folder, document);
      expect(direct.code, direct.stderr).toBe(0);
      expect(wrapped.code, wrapped.stderr).toBe(0);
      expect(direct.stdout.toString()).toMatch(/"id":2,("jsonrpc":"2.0",)?"result":\{/);
      expect(wrapped.stdout.equals(direct.stdout)).toBe(true);
      const events = await readCapture(capturePath(wrapped.stderr));
      expect(fdBytes(events, 0).equals(wrapped.sent)).toBe(true);
      expect(fdBytes(events, 1).equals(wrapped.stdout)).toBe(true);
      const logs = events.flatMap((e) => (e.kind === "log" && e.conn === 1 ? [e.text] : []));
      const client = logs.filter((l) => l.startsWith("client "));
      expect(client).toEqual([
        expect.stringMatching(/^client request #1 initialize \{"processId":null,"rootUri":"file:\/\//),
        "client notification initialized {}",
        expect.stringMatching(/^client notification textDocument\/didOpen \{"textDocument":/),
        expect.stringMatching(/^client request #2 textDocument\/hover \{"textDocument":/),
        "client request #3 shutdown ",
        "client notification exit ",
      ]);
      for (const [id, method] of [
        [1, "initialize"],
        [2, "textDocument/hover"],
        [3, "shutdown"],
      ] as const) {
        const response = new RegExp(`^server response #${id} to ${method.replace("/", "\\/")} in [\\d.]+ ms: `);
        expect(
          logs.filter((l) => response.test(l)),
          `${method} paired`,
        ).toHaveLength(1);
      }
      expect(logs).toContainEqual(expect.stringMatching(/^server notification textDocument\/publishDiagnostics /));
      const paired = events.filter((e) => e.kind === "log" && typeof e.fields["latencyMs"] === "number");
      expect(paired.length).toBeGreaterThanOrEqual(3);
      expectFramesSpanned(events);
      expect(events.at(-1)).toMatchObject({ kind: "lifecycle", conn: 0, event: "closed" });
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  }

  it(
    "decodes pylsp's conversation with --protocol template:lsp, without changing a byte of it",
    async () => {
      if (!fs.existsSync(PYLSP)) {
        throw new Error("This test needs pylsp as a real server: apt-get install python3-pylsp (.ci/run does this).");
      }
      await decodedThroughWrap([PYLSP], PYTHON_DOCUMENT);
    },
    2 * LSP_TIMEOUT_MS,
  );

  it(
    "decodes clangd's conversation with --protocol template:lsp, without changing a byte of it",
    async () => {
      if (!fs.existsSync(CLANGD)) {
        throw new Error("This test needs clangd as a real server: apt-get install clangd (.ci/run does this).");
      }
      const document = {
        name: "sample.cpp",
        languageId: "cpp",
        text: "int twice(int x) { return 2 * x; }\nint main() { return twice(21); }\n",
        hover: { line: 1, character: 21 },
      };
      await decodedThroughWrap([CLANGD], document);
    },
    2 * LSP_TIMEOUT_MS,
  );

  it("relays binary stdin to stdout and stderr unchanged, adds nothing to stdout, and exits with the code", async () => {
    const input = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = (i * 31 + (i >> 8)) & 0xff;
    const r = await runWrap(["sh", "-c", "cat; printf 'to stderr\\n' >&2; exit 5"], input);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout.equals(input)).toBe(true);
    const events = await readCapture(capturePath(r.stderr));
    expect(fdBytes(events, 0).equals(input)).toBe(true);
    expect(fdBytes(events, 1).equals(input)).toBe(true);
    expect(r.stderr.startsWith("to stderr\n")).toBe(true);
  });

  it("runs a protocol passively: what it writes and closes goes nowhere, the relay is unchanged", async () => {
    // The bc template writes its questions to stdin and then closes it: on a wrap, neither reaches cat.
    const input = Buffer.from("from the program\n".repeat(1000));
    // Stdin stays open meanwhile: were the protocol not passive, its writes would reach cat and come back.
    const r = await runWrap(["cat"], input, { options: ["--protocol", "template:bc"], holdStdinMs: 1000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
    const events = await readCapture(capturePath(r.stderr));
    expect(fdBytes(events, 0).equals(input)).toBe(true);
    expect(events.filter((e) => e.kind === "log" && e.conn === 1).length).toBeGreaterThan(0);
  });

  it("stops the command and exits 141 when the program closes wrap's stdout or stderr, keeping its stdin open", async () => {
    for (const fd of [1, 2] as const) {
      const child = spawn(process.execPath, [BIN, "wrap", "--", "sh", "-c", fd === 1 ? "exec yes" : "exec yes >&2"], {
        cwd: REPO,
        env: { ...process.env, WIRESCOPE_WORKSPACE: ws.path },
        stdio: ["pipe", "pipe", "pipe"],
      });
      children.add(child);
      const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      const output = fd === 1 ? child.stdout : child.stderr;
      // The program reads a little, then closes its end: the command keeps writing, stdin stays open.
      await new Promise((resolve) => output.once("data", resolve));
      output.destroy();
      const code = await Promise.race([closed, new Promise((resolve) => setTimeout(() => resolve("running"), 10_000))]);
      expect(code, `wrap with fd ${fd} closed`).toBe(141);
      const events = await onlyCapture();
      const spawned = events.find((e) => e.kind === "lifecycle" && e.event === "spawned");
      const pid = spawned?.kind === "lifecycle" ? spawned.fields?.["pid"] : undefined;
      expect(pid).toEqual(expect.any(Number));
      expect(isRunning(pid as number), `the command of fd ${fd}`).toBe(false);
      expect(events.find((e) => e.kind === "lifecycle" && e.event === "exited")).toMatchObject({
        detail: "killed by SIGTERM",
      });
      child.stdin.end();
      fs.rmSync(path.join(ws.path, "captures"), { recursive: true, force: true });
    }
  });

  it("passes SIGTERM and SIGINT on to the command, exits 128 + the signal, with the capture complete", async () => {
    for (const [signal, code] of [
      ["SIGTERM", 143],
      ["SIGINT", 130],
    ] as const) {
      const cli = startCli(["wrap", "--", "sh", "-c", "echo ready; exec sleep 30"], {
        workspace: ws.path,
        input: "",
        keepStdinOpen: true,
      });
      await cli.waitForOutput(/^ready$/m);
      const r = await cli.stop(signal);
      expect(r.code, r.stderr).toBe(code);
      expect(r.stdout).toBe("ready\n");
      const events = await readCapture(capturePath(r.stderr));
      const exited = events.find((e) => e.kind === "lifecycle" && e.event === "exited");
      expect(exited).toMatchObject({ detail: `killed by ${signal}` });
      expect(events.at(-1)).toMatchObject({ kind: "lifecycle", conn: 0, event: "closed" });
    }
  });
});
