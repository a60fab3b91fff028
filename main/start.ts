/**
 * `npm start`. The desktop app (Electron shell, engine and workbench) is not built yet: it is the subject of the
 * engine, workbench and desktop-app issues. Until then this says so plainly instead of pretending.
 */
const message = `Wirescope: the desktop app is not built yet.

What exists today is the core: Twisted's networking model in TypeScript (core/), usable as a library:

  import { reactor, Protocol, Factory } from "./core/index.ts";

  npm test         typecheck, lint and every test (real sockets on 127.0.0.1, Twisted 22.4 as a peer)
  npm run bench    throughput figures of the core against hand-written node:net loops

The engine (sessions, recording, sandboxed protocols), the workbench and the Electron shell come next.
`;
process.stdout.write(message);
process.exitCode = 1;
