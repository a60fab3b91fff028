/**
 * The contract's targets: where a client session connects (ClientTarget) and where a listener binds (ListenTarget),
 * each as a Twisted endpoint string or as structured fields. connect, listen, proxy and replay take them;
 * contract.ts re-exports them.
 */
import { z } from "zod";
import { endpoint, text } from "./contract-text.ts";
import { MAX_HOST_LENGTH } from "./limits.ts";

const port = z
  .number()
  .int("a port is a whole number")
  .min(0, "a port is from 0 to 65535")
  .max(65535, "a port is from 0 to 65535");
const host = text("the host", MAX_HOST_LENGTH)
  .trim()
  .min(1, "the host is empty: give a name or an address such as 127.0.0.1");

/**
 * Where a client connects: a Twisted endpoint string (`tcp:host=127.0.0.1:port=6379`), or structured fields (host,
 * port, tls). One object rather than a union, so that a wrong field gets its own message.
 */
export const ClientTarget = z
  .object({
    endpoint: endpoint.trim().min(1, "the endpoint is empty").optional(),
    host: host.optional(),
    port: port.min(1, "a port is from 1 to 65535").optional(),
    tls: z.boolean().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.endpoint !== undefined) {
      if (t.host !== undefined || t.port !== undefined || t.tls !== undefined) {
        ctx.addIssue({ code: "custom", message: "give either an endpoint string or host and port, not both" });
      }
      return;
    }
    if (t.host === undefined) ctx.addIssue({ code: "custom", path: ["host"], message: "the host is missing" });
    if (t.port === undefined) ctx.addIssue({ code: "custom", path: ["port"], message: "the port is missing" });
  });
export type ClientTarget = z.infer<typeof ClientTarget>;

/** Where a listener binds: a Twisted server endpoint string (`tcp:0:interface=127.0.0.1`), or port and interface. */
export const ListenTarget = z
  .object({
    endpoint: endpoint.trim().min(1, "the endpoint is empty").optional(),
    port: port.optional(),
    interface: text("the interface", MAX_HOST_LENGTH).trim().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.endpoint !== undefined) {
      if (t.port !== undefined || t.interface !== undefined) {
        ctx.addIssue({ code: "custom", message: "give either an endpoint string or port and interface, not both" });
      }
      return;
    }
    if (t.port === undefined)
      ctx.addIssue({ code: "custom", path: ["port"], message: "the port is missing (0 picks a free one)" });
  });
export type ListenTarget = z.infer<typeof ListenTarget>;
