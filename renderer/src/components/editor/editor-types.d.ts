/**
 * The declarations the protocol editor's TypeScript service is given, built by renderer/scripts/editor-types.ts
 * (the core's, emitted from core/index.ts, and the Node globals a sandboxed protocol sees).
 */
declare module "virtual:wirescope-editor-types" {
  /** file:///node_modules/... paths and their contents, to add as extra libs. */
  const libs: { path: string; content: string }[];
  export default libs;
}
