/**
 * The saved connection profiles (profiles.json) on a real temporary folder: round trips, concurrent saves, invalid
 * profiles and a file edited by hand into something unreadable.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { rejection, temporaryFiles, useWorkspace } from "../../tests/helpers/workspace.ts";
import { profilesFile } from "./layout.ts";
import type { ConnectionProfile } from "./profiles.ts";

const t = useWorkspace();

describe("profiles", () => {
  const redis: ConnectionProfile = { name: "redis", kind: "client", endpoint: "tcp:host=127.0.0.1:port=6379" };
  const proxy: ConnectionProfile = {
    name: "mitm",
    kind: "proxy",
    endpoint: "tcp:0:interface=127.0.0.1",
    upstream: "tcp:host=127.0.0.1:port=6379",
    protocol: "resp.ts",
  };

  it("round-trips, replaces by name, keeps the order, and deletes", async () => {
    expect(await t.ws.listProfiles()).toEqual([]);
    await t.ws.saveProfile(redis);
    await t.ws.saveProfile(proxy);
    await t.ws.saveProfile({ ...redis, endpoint: "tcp:host=127.0.0.1:port=6380" });
    expect(await t.ws.listProfiles()).toEqual([{ ...redis, endpoint: "tcp:host=127.0.0.1:port=6380" }, proxy]);
    expect(JSON.parse(readFileSync(profilesFile(t.root), "utf8"))).toMatchObject({ version: 1 });
    await t.ws.deleteProfile("redis");
    expect(await t.ws.listProfiles()).toEqual([proxy]);
    expect((await rejection(t.ws.deleteProfile("redis"))).code).toBe("not-found");
  });

  it("does not lose a save made at the same time as another", async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.ws.saveProfile({ ...redis, name: `p${i}` })));
    expect((await t.ws.listProfiles()).map((p) => p.name)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
    expect(temporaryFiles(t.root)).toEqual([]);
  });

  it.each([
    [{ ...redis, kind: "server" }, "a profile's kind is one of client, listener, proxy: got server"],
    [{ ...redis, name: "" }, "a profile's name must be a non-empty line"],
    [{ ...proxy, upstream: undefined }, "proxy profile 'mitm' needs an upstream endpoint to forward to"],
    [{ ...redis, protocol: "../x.ts" }, "profile 'redis': protocol paths may not leave the workspace"],
  ])("refuses an invalid profile with invalid-profile (%#)", async (bad, message) => {
    const err = await rejection(t.ws.saveProfile(bad as ConnectionProfile));
    expect(err.code).toBe("invalid-profile");
    expect(err.message).toContain(message);
  });

  it("refuses to overwrite a profiles.json it cannot read, and leaves it as it is", async () => {
    writeFileSync(profilesFile(t.root), "{ half-edited");
    expect((await rejection(t.ws.listProfiles())).code).toBe("corrupt-profiles");
    const err = await rejection(t.ws.saveProfile(redis));
    expect(err.code).toBe("corrupt-profiles");
    expect(err.message).toContain("fix or remove it");
    expect(readFileSync(profilesFile(t.root), "utf8")).toBe("{ half-edited");
  });
});
