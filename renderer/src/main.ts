/**
 * The workbench's entry: connect to the engine, create the shared state, mount the app. If the engine can't be
 * reached, say why and what to do instead of showing an empty window.
 */
import { mount } from "svelte";
import { z } from "zod";
import App from "./App.svelte";
import { connectEngine } from "./lib/api.ts";
import { Workbench } from "./lib/workbench.svelte.ts";
import "./theme.css";

// zod probes for eval support with Function(""), which the workbench's CSP forbids: tell it not to try.
z.config({ jitless: true });

const target = document.getElementById("app")!;
try {
  const api = await connectEngine();
  const workbench = new Workbench(api);
  await workbench.start();
  mount(App, { target, props: { workbench } });
} catch (err) {
  target.innerHTML = "";
  const p = document.createElement("p");
  p.className = "fatal";
  p.setAttribute("role", "alert");
  p.textContent = (err as Error).message;
  target.append(p);
}
