#!/usr/bin/env node
// `npx wirescope ...`, `npm run wirescope -- ...`: runs the CLI (main/cli/main.ts) from this checkout's TypeScript
// sources through tsx's loader, registered in-process (no build step, nothing fetched). See main/cli/main.ts.
import { register } from "tsx/esm/api";

register();
await import("../main/cli/main.ts");
