/**
 * How the workbench reaches the engine: the contract object (`WirescopeApi`). In the desktop app the Electron
 * preload puts it on `window.wirescope`; in browser mode (`npm run serve`) it is a WebSocket client to the same
 * origin, authenticated with the token the server printed (passed once as `?token=` in the address, then kept in
 * sessionStorage and removed from the address bar so it doesn't end up in screenshots or history).
 */
import type { WirescopeApi } from "../../../preload/contract.ts";
import { connectWebSocketApi, type WebSocketApi } from "../../../preload/ws-client.ts";

declare global {
  interface Window {
    /** Set by the Electron preload (contextBridge); absent in browser mode. */
    wirescope?: WirescopeApi;
  }
}

const TOKEN_KEY = "wirescope.token";

/** Why the workbench could not reach the engine, in words a person can act on. */
export class EngineUnreachableError extends Error {}

/** The token from the address (first visit) or from this tab's storage (reloads). */
function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.toString());
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Connects to the engine. Rejects with EngineUnreachableError saying what to do. */
export async function connectEngine(): Promise<WirescopeApi & Partial<Pick<WebSocketApi, "closed">>> {
  if (window.wirescope) return window.wirescope;
  const token = takeToken();
  if (!token) {
    throw new EngineUnreachableError(
      "No access token: open the address that `npm run serve` printed (it ends with ?token=...).",
    );
  }
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}/ws?token=${encodeURIComponent(token)}`;
  try {
    return await connectWebSocketApi(url);
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw new EngineUnreachableError(
      `Could not reach the engine (${(err as Error).message}). Is \`npm run serve\` still running? Open the address it printed.`,
    );
  }
}
