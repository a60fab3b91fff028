/**
 * What the protocol editor reports about a file, in one shape: the engine's compile diagnostics (esbuild: syntax,
 * imports — the code that runs), the editor's own TypeScript checks (types), and the error a live connection
 * halted on. Pure functions; the view turns these into Monaco markers and the "Problems" list.
 */
import type * as Monaco from "monaco-editor/editor";
import type { ConnectionInfo, Diagnostic, SessionInfo } from "../../../../preload/contract.ts";

/** One entry of the "Problems" list. Lines and columns are 1-based, in UTF-16 units, as editors count. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  message: string;
  severity: "error" | "warning";
  /** "compile": the engine's compiler, as of the last save; "types": the editor's TypeScript check, live. */
  source: "compile" | "types";
  /** TypeScript's error code, for "types" problems. */
  code?: string;
}

/** How a problem reads in the list and to a screen reader: "file:line:col message". */
export function problemText(p: Problem): string {
  return `${p.file}:${p.line}:${p.column} ${p.message}`;
}

/** The engine's diagnostics as problems (line 0, "the whole file", shows as 1:1). */
export function compileProblems(diagnostics: readonly Diagnostic[]): Problem[] {
  return diagnostics.map((d) => ({
    file: d.file,
    line: Math.max(1, d.line),
    column: Math.max(1, d.column),
    message: d.message,
    severity: d.severity,
    source: "compile",
  }));
}

/** TypeScript's markers on the model of `file` as problems: errors and warnings (hints are left inline). */
export function typeProblems(
  monaco: typeof Monaco,
  file: string,
  markers: readonly Monaco.editor.IMarker[],
): Problem[] {
  const problems: Problem[] = [];
  for (const m of markers) {
    if (m.severity < monaco.MarkerSeverity.Warning) continue;
    const code = typeof m.code === "string" ? m.code : m.code?.value;
    problems.push({
      file,
      line: m.startLineNumber,
      column: m.startColumn,
      message: m.message,
      severity: m.severity === monaco.MarkerSeverity.Error ? "error" : "warning",
      source: "types",
      ...(code === undefined ? {} : { code }),
    });
  }
  return problems;
}

/**
 * The list as shown: `file`'s own problems first, then other files' (an imported file that doesn't compile), each
 * by position. A TypeScript syntax error (codes 1000-1999) on a line where the compiler already reports an error
 * is left out: it is the same mistake said twice.
 */
export function mergeProblems(file: string, compile: readonly Problem[], types: readonly Problem[]): Problem[] {
  const compiledLines = new Set(compile.filter((p) => p.severity === "error").map((p) => `${p.file}:${p.line}`));
  const isSyntax = (p: Problem) => p.code !== undefined && /^1\d{3}$/.test(p.code);
  const kept = types.filter((p) => !(isSyntax(p) && compiledLines.has(`${p.file}:${p.line}`)));
  return [...compile, ...kept].sort(
    (a, b) =>
      Number(b.file === file) - Number(a.file === file) ||
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.source === b.source ? 0 : a.source === "compile" ? -1 : 1),
  );
}

/**
 * Monaco markers for `file`'s problems on `model`: each underlines the word at its position (or one character),
 * clamped to the text as it is now (it may have changed since the compile).
 */
export function problemMarkers(
  monaco: typeof Monaco,
  model: Monaco.editor.ITextModel,
  problems: readonly Problem[],
  source: string,
): Monaco.editor.IMarkerData[] {
  return problems.map((p) => {
    const start = model.validatePosition({ lineNumber: p.line, column: p.column });
    const word = model.getWordAtPosition(start);
    const end = model.validatePosition({ lineNumber: start.lineNumber, column: word?.endColumn ?? start.column + 1 });
    return {
      severity: p.severity === "error" ? monaco.MarkerSeverity.Error : monaco.MarkerSeverity.Warning,
      message: p.message,
      source,
      startLineNumber: start.lineNumber,
      startColumn: start.column,
      endLineNumber: end.lineNumber,
      endColumn: end.column,
    };
  });
}

/** A connection running some file, with its session: one row of "Live connections". */
export interface LiveConnection {
  session: SessionInfo;
  connection: ConnectionInfo;
  /** Where it halted, when the reason names a source position ("... at line.ts:12:5"). */
  haltedAt: { file: string; line: number; column: number } | null;
}

/** The connections not yet closed whose protocol is `file`, in session order. */
export function liveConnections(sessions: readonly SessionInfo[], file: string): LiveConnection[] {
  const rows: LiveConnection[] = [];
  for (const session of sessions) {
    for (const connection of session.connections) {
      if (connection.state === "closed" || connection.protocol?.file !== file) continue;
      rows.push({ session, connection, haltedAt: haltedPosition(connection.protocol.halted) });
    }
  }
  return rows;
}

/** The source position at the end of a halt reason ("TypeError: x is not a function at line.ts:12:5"). */
export function haltedPosition(reason: string | undefined): LiveConnection["haltedAt"] {
  const match = reason === undefined ? null : / at (\S+?):(\d+):(\d+)$/.exec(reason);
  if (match === null) return null;
  return { file: match[1]!, line: Number(match[2]), column: Number(match[3]) };
}
