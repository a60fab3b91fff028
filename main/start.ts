/**
 * `npm start`. The desktop app (the Electron shell and the workbench) is not built yet: those are the workbench
 * and desktop-app issues. Until then this says so plainly instead of pretending, and points at what runs today.
 */
const message = `Wirescope: the desktop app is not built yet.

What runs today:

  npm run serve    the engine in browser mode: sessions, recording, sandboxed protocols with hot reload,
                   served over a WebSocket on 127.0.0.1 (the workbench UI comes next)
  npm test         typecheck, lint and every test (real sockets, Twisted 22.4 and redis-server as peers)
  npm run bench    throughput and latency figures against baselines measured in the same run

The core, Twisted's networking model in TypeScript, is usable as a library: import from "./core/index.ts".
`;
process.stdout.write(message);
process.exitCode = 1;
