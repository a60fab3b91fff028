/**
 * The ClientHello reader with a real ClientHello (node:tls's, asking for a name and offering ALPN protocols), fed in
 * one chunk, byte by byte and split at every point; and what it says of bytes that are not one.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { ClientHelloError, ClientHelloReader, MAX_CLIENT_HELLO_BYTES } from "./client-hello.ts";

/** The first TLS record a node:tls client sends (its ClientHello), caught by a server that never answers. */
async function realClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  let caught!: (hello: Buffer) => void;
  const hello = new Promise<Buffer>((resolve) => (caught = resolve));
  const server = net.createServer((socket) => {
    let got = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
        caught(got.subarray(0, 5 + got.readUInt16BE(3)));
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = tls.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, ...options });
  client.on("error", () => {});
  try {
    return await hello;
  } finally {
    client.destroy();
    server.close();
  }
}

function read(chunks: Buffer[]): ClientHelloReader {
  const reader = new ClientHelloReader();
  for (const chunk of chunks) reader.feed(chunk);
  return reader;
}

let hello: Buffer;
beforeAll(async () => {
  hello = await realClientHello({ servername: "db.example.test", ALPNProtocols: ["h2", "http/1.1"] });
});

describe("ClientHelloReader", () => {
  it("reads SNI, ALPN and the random from one chunk, byte by byte, and split at every point", async () => {
    const ways = [[hello], [...hello].map((b) => Buffer.from([b]))];
    for (let at = 1; at < hello.length; at++) ways.push([hello.subarray(0, at), hello.subarray(at)]);
    for (const chunks of ways) {
      const got = await read(chunks).hello;
      expect(got.servername).toBe("db.example.test");
      expect(got.alpn).toEqual(["h2", "http/1.1"]);
      expect(got.random).toEqual(hello.subarray(11, 43));
      expect(got.bytes).toEqual(hello);
    }
  });

  it("keeps what follows the hello for the TLS layer", async () => {
    const reader = read([hello]);
    await reader.hello;
    reader.feed(Buffer.from("more"));
    expect(reader.bytes()).toEqual(Buffer.concat([hello, Buffer.from("more")]));
    expect(reader.size).toBe(hello.length + 4);
  });

  it("gives null and an empty list to a client that asks for no name and offers no ALPN", async () => {
    const bare = await read([await realClientHello({})]).hello;
    expect(bare).toMatchObject({ servername: null, alpn: [] });
  });

  it("quotes a plain-text client's first line, and shows other bytes in hex", async () => {
    await expect(read([Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]).hello).rejects.toThrow(
      new ClientHelloError("not-tls", "the client sent 'GET / HTTP/1.1': it speaks plain text, not TLS"),
    );
    await expect(read([Buffer.from([0, 1, 2, 0xff])]).hello).rejects.toThrow(
      "the client sent bytes 00 01 02 ff: it speaks plain text, not TLS",
    );
  });

  it("gives up past MAX_CLIENT_HELLO_BYTES, and when the client closes first", async () => {
    const header = Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]);
    const big = read([header, Buffer.alloc(MAX_CLIENT_HELLO_BYTES)]);
    await expect(big.hello).rejects.toMatchObject({ code: "too-large" });
    const cut = read([hello.subarray(0, 20)]);
    cut.closed();
    await expect(cut.hello).rejects.toMatchObject({ code: "closed" });
  });
});
