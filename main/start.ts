/**
 * `npm start`. The desktop app needs the Electron shell (the desktop-app issue), and no Electron binary can be had
 * on this machine. Until the shell lands this says so plainly and points at browser mode, which is the same
 * workbench and engine.
 */
const message = `Wirescope: the desktop app (Electron shell) is not built yet.

Run the same workbench in your browser instead:

  npm run serve    builds the workbench and serves it with the engine on 127.0.0.1;
                   open the address it prints

Also:
  npm test         typecheck, lint and every test (real sockets, Twisted 22.4, redis-server, Chromium)
  npm run bench    throughput and latency figures against baselines measured in the same run
`;
process.stdout.write(message);
process.exitCode = 1;
