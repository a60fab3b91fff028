/**
 * The desktop app's `app://wirescope/` scheme, under Node over real files: what a window asking for the workbench's
 * files gets (the file, its type, the CSP) and what it never gets (anything outside renderer/dist).
 */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentSecurityPolicy } from "../adapters/workbench-files.ts";
import { APP_ORIGIN, APP_SCHEMES, APP_URL, serveAppRequest } from "./app-protocol.ts";

let dir: string;
let root: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(path.join(tmpdir(), "wirescope-app-protocol-")));
  root = path.join(dir, "dist");
  await mkdir(path.join(root, "assets"), { recursive: true });
  await writeFile(path.join(root, "index.html"), "<!doctype html><title>Wirescope</title>");
  await writeFile(path.join(root, "assets", "editor.worker-abc.js"), "self.onmessage = () => {};");
  await writeFile(path.join(root, "assets", "codicon.ttf"), Buffer.from([0, 1, 0, 0]));
  await writeFile(path.join(root, "assets", "data.bin"), Buffer.from([1, 2, 3]));
  await writeFile(path.join(dir, "secret.txt"), "not for the window");
  await symlink(path.join(dir, "secret.txt"), path.join(root, "link.txt"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function get(url: string, method = "GET"): Promise<Response> {
  return serveAppRequest({ url, method }, root);
}

describe("the app:// scheme", () => {
  it("is registered standard and secure with fetch, and never bypasses the CSP or opens to other origins", () => {
    expect(APP_SCHEMES).toEqual([
      { scheme: "app", privileges: { standard: true, secure: true, supportFetchAPI: true } },
    ]);
    expect(APP_URL).toBe(`${APP_ORIGIN}/index.html`);
  });

  it("serves the workbench's page with the CSP and its content type", async () => {
    const page = await get(APP_URL);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>Wirescope</title>");
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toBe(contentSecurityPolicy());
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await get(`${APP_ORIGIN}/`)).status).toBe(200);
  });

  it("serves the editor's module workers as JavaScript (Chromium refuses a module worker of any other type)", async () => {
    const worker = await get(`${APP_ORIGIN}/assets/editor.worker-abc.js`);
    expect(worker.status).toBe(200);
    expect(worker.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await worker.text()).toBe("self.onmessage = () => {};");
    expect((await get(`${APP_ORIGIN}/assets/codicon.ttf`)).headers.get("content-type")).toBe("font/ttf");
    expect((await get(`${APP_ORIGIN}/assets/data.bin`)).headers.get("content-type")).toBe("application/octet-stream");
  });

  it("answers HEAD without a body", async () => {
    const head = await get(APP_URL, "HEAD");
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("refuses every path outside renderer/dist, with the CSP still on the answer", async () => {
    // A literal `..` segment (or `%2e%2e`) never reaches the containment check: the handler's own `new URL` drops
    // it, as Chromium does before the request exists. What does reach it is an encoded slash, decoded only after
    // parsing: `..%2f` from the top is `../secret.txt`, the very file a broken check would serve.
    expect(new URL(`${APP_ORIGIN}/..%2fsecret.txt`).pathname).toBe("/..%2fsecret.txt");
    for (const url of [
      `${APP_ORIGIN}/..%2fsecret.txt`,
      `${APP_ORIGIN}/..%5csecret.txt`,
      `${APP_ORIGIN}/assets/%2e%2e%2f%2e%2e%2fsecret.txt`,
      `${APP_ORIGIN}/assets/..%2f..%2fsecret.txt`,
      `${APP_ORIGIN}/link.txt`,
      `${APP_ORIGIN}/%00index.html`,
      `${APP_ORIGIN}/%E0%A4%A.html`,
      `${APP_ORIGIN}/missing.js`,
      `${APP_ORIGIN}/assets`,
    ]) {
      const answer = await get(url);
      expect(answer.status, url).toBe(404);
      expect(await answer.text(), url).not.toContain("not for the window");
      expect(answer.headers.get("content-security-policy"), url).toBe(contentSecurityPolicy());
    }
  });

  it("serves only its own host and scheme", async () => {
    expect((await get("app://elsewhere/index.html")).status).toBe(404);
    expect((await get("file:///index.html")).status).toBe(404);
    expect((await get("not a url")).status).toBe(404);
  });

  it("serves GET and HEAD only", async () => {
    const post = await get(APP_URL, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("answers 404 when a file cannot be read, rather than failing the request", async () => {
    const answer = await serveAppRequest({ url: APP_URL, method: "GET" }, root, () => Promise.reject(new Error("EIO")));
    expect(answer.status).toBe(404);
  });
});
