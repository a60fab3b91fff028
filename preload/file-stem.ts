/**
 * What a session's files are named after, on both sides: the engine's pcapng exports (main/interchange/export.ts)
 * and the workbench's downloads that the engine writes nowhere (TLS keys), so that one session's files sort
 * together. Pure: no DOM, no Node.
 */

/** "client-1" or "client-1-conn-2": the session's name made safe as a file name (its id when nothing is left). */
export function fileStem(info: { id: string; name: string }, conn?: number): string {
  const name =
    info.name
      .normalize("NFKC")
      .replace(/[^\p{L}\p{N}._-]+/gu, "-")
      .replace(/^[-.]+|[-.]+$/g, "")
      .slice(0, 80) || info.id;
  return conn === undefined ? name : `${name}-conn-${conn}`;
}
