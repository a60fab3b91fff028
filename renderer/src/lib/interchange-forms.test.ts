import { describe, expect, it } from "vitest";
import { checkArgs, type ConnectionInfo } from "../../../preload/contract.ts";
import { contractError, invalidArguments } from "../../../preload/errors.ts";
import { buildDecode, decodeEngineErrors, initialDecodeForm } from "./decode-form.ts";
import { argumentIssues } from "./form-errors.ts";
import { buildReplay, initialReplayForm, replayEngineErrors } from "./replay-form.ts";

const connection = (leg: "client" | "server", host: string, peer: string): ConnectionInfo => ({
  conn: 1,
  leg,
  state: "closed",
  host,
  peer,
  bytesIn: 0,
  bytesOut: 0,
  chunksIn: 0,
  chunksOut: 0,
  openedAt: 0,
  protocol: null,
});

describe("argumentIssues", () => {
  it("names each wrong argument by its path, as the contract checked them, and a detail without one for the form", () => {
    const refused = checkArgs("replay", { session: "s1", conn: 1, side: "client", target: { host: "h", port: 70000 } });
    expect(!refused.ok && argumentIssues(refused.error)).toEqual([
      { path: "target.port", message: "a port is from 0 to 65535" },
    ]);
    const both = checkArgs("connect", { target: { endpoint: "tcp:host=h:port=1", host: "h", port: 1 } });
    expect(!both.ok && argumentIssues(both.error)).toEqual([
      { path: "target", message: "give either an endpoint string or host and port, not both" },
    ]);
  });

  it("puts an answer without issues on the form, whole", () => {
    expect(argumentIssues(contractError("invalid-arguments", "send: the data could not be encoded"))).toEqual([
      { path: "", message: "send: the data could not be encoded" },
    ]);
  });
});

describe("the decode form", () => {
  it("asks for a protocol when none is chosen", () => {
    const built = buildDecode("s1", 1, initialDecodeForm(), "");
    expect(built).toEqual({ ok: false, errors: { protocol: "Choose a protocol file" } });
  });

  it("explains runs that aren't a number next to Runs, and too many runs too", () => {
    const form = { ...initialDecodeForm("resp.ts"), resplit: true, runs: "ten" };
    expect(buildDecode("s1", 1, form, "resp.ts")).toMatchObject({ ok: false, errors: { runs: /whole number/ } });
    const many = { ...form, runs: "5000" };
    expect(buildDecode("s1", 1, many, "resp.ts")).toMatchObject({ ok: false, errors: { runs: /1,000/ } });
  });

  it("builds the arguments, with a re-split when asked", () => {
    const form = { ...initialDecodeForm("resp.ts"), side: "both" as const, resplit: true, runs: "20", seed: "7" };
    expect(buildDecode("s1", 2, form, "resp.ts")).toEqual({
      ok: true,
      args: { session: "s1", conn: 2, protocol: "resp.ts", side: "both", resplit: { runs: 20, seed: 7 } },
    });
  });

  it("puts a protocol that doesn't compile on Protocol, and anything else on the form", () => {
    expect(decodeEngineErrors(contractError("compile-error", "resp.ts does not compile"))).toEqual({
      protocol: "Resp.ts does not compile",
    });
    expect(decodeEngineErrors(contractError("not-a-tcp-conversation", "no TCP addresses"))).toEqual({
      form: "No TCP addresses",
    });
  });
});

describe("the replay form", () => {
  it("fills in the server the connection talked to", () => {
    const form = initialReplayForm(connection("server", "127.0.0.1:50000", "127.0.0.1:6379"));
    expect([form.client.host, form.client.port]).toEqual(["127.0.0.1", "6379"]);
    const accepted = initialReplayForm(connection("client", "[::1]:7000", "[::1]:50001"));
    expect([accepted.client.host, accepted.client.port]).toEqual(["::1", "7000"]);
  });

  it("sends the client side to host and port, and plays the server side on port 0 by default", () => {
    const form = initialReplayForm(connection("server", "127.0.0.1:50000", "127.0.0.1:6379"));
    expect(buildReplay("s1", 1, form)).toEqual({
      ok: true,
      args: { session: "s1", conn: 1, side: "client", target: { host: "127.0.0.1", port: 6379, tls: false } },
    });
    expect(buildReplay("s1", 1, { ...form, side: "server" })).toEqual({
      ok: true,
      args: { session: "s1", conn: 1, side: "server", listen: { port: 0 } },
    });
  });

  it("explains a bad port next to Port before sending", () => {
    const form = initialReplayForm(undefined);
    form.client.host = "127.0.0.1";
    form.client.port = "70000";
    expect(buildReplay("s1", 1, form)).toMatchObject({ ok: false, errors: { port: /65535/ } });
  });

  it("maps the engine's errors onto the side's fields", () => {
    const form = { ...initialReplayForm(undefined), side: "server" as const };
    const invalid = invalidArguments("replay", [{ path: "listen.port", message: "a port is from 0 to 65535" }]);
    expect(replayEngineErrors(form, invalid)).toEqual({ port: "A port is from 0 to 65535" });
    const refused = contractError("ConnectionRefusedError", "Connection was refused by other side");
    expect(replayEngineErrors({ ...form, side: "client" }, refused)).toEqual({
      port: "Connection was refused by other side",
    });
  });
});
