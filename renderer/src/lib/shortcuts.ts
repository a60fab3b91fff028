/**
 * The workbench's keyboard shortcuts, in one table: App handles the global ones, the welcome view lists them all,
 * buttons show theirs in their title. Ctrl on Linux and Windows, Cmd on macOS ("Mod" below).
 */

/** A key combination. `key` is a letter or a KeyboardEvent.key name ("Enter", "Escape", "Delete"). */
export interface Chord {
  key: string;
  mod?: boolean;
  shift?: boolean;
  alt?: boolean;
}

/** What a global shortcut does; App maps each to an action. */
export type GlobalAction = "newConnection" | "newListener" | "newProxy" | "newProtocol";

export interface Shortcut {
  /** Set for the shortcuts App handles anywhere in the window (outside dialogs and the editor's own keys). */
  action?: GlobalAction;
  /** Where it applies, for the list in the welcome view. */
  where: string;
  /** What it does, in a few words. */
  does: string;
  /** The first chord is the one shown in titles; the others are alternatives. */
  chords: Chord[];
  /** A note shown in the list (why an alternative exists). */
  note?: string;
}

const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);

export const SHORTCUTS: readonly Shortcut[] = [
  {
    action: "newConnection",
    where: "Anywhere",
    does: "New connection",
    chords: [
      { key: "N", mod: true },
      { key: "N", alt: true, shift: true },
    ],
    note: "In a browser tab the browser keeps Ctrl+N: use Alt+Shift+N.",
  },
  { action: "newListener", where: "Anywhere", does: "New listener", chords: [{ key: "L", mod: true, shift: true }] },
  { action: "newProxy", where: "Anywhere", does: "New proxy", chords: [{ key: "P", mod: true, shift: true }] },
  { action: "newProtocol", where: "Anywhere", does: "New protocol", chords: [{ key: "E", mod: true, shift: true }] },
  { where: "Dialogs", does: "Close without changing anything", chords: [{ key: "Escape" }] },
  { where: "Sessions list", does: "Move between sessions and connections", chords: [{ key: "↑" }, { key: "↓" }] },
  { where: "Sessions list", does: "Open the traffic view", chords: [{ key: "Enter" }] },
  { where: "Sessions list", does: "Close the connection, or stop the session", chords: [{ key: "Delete" }] },
  { where: "Traffic view", does: "Send", chords: [{ key: "Enter", mod: true }] },
  { where: "Protocol editor", does: "Save and hot-load", chords: [{ key: "S", mod: true }] },
];

/** How a chord is written on this platform: "Ctrl+Shift+L" or "⇧⌘L". */
export function formatChord(chord: Chord): string {
  if (isMac) return `${chord.alt ? "⌥" : ""}${chord.shift ? "⇧" : ""}${chord.mod ? "⌘" : ""}${chord.key}`;
  return [chord.mod && "Ctrl", chord.alt && "Alt", chord.shift && "Shift", chord.key].filter(Boolean).join("+");
}

/** The title of a button that has a global shortcut: "New listener (Ctrl+Shift+L)". */
export function titleWithShortcut(text: string, action: GlobalAction): string {
  const shortcut = SHORTCUTS.find((s) => s.action === action);
  return shortcut ? `${text} (${formatChord(shortcut.chords[0]!)})` : text;
}

/** Whether a keydown is exactly this chord (no extra modifiers). Letters match by physical key or by character. */
export function matches(event: KeyboardEvent, chord: Chord): boolean {
  const mod = isMac ? event.metaKey : event.ctrlKey;
  const other = isMac ? event.ctrlKey : event.metaKey;
  if (mod !== !!chord.mod || other || event.shiftKey !== !!chord.shift || event.altKey !== !!chord.alt) return false;
  if (chord.key.length === 1) {
    return event.code === `Key${chord.key.toUpperCase()}` || event.key.toUpperCase() === chord.key.toUpperCase();
  }
  return event.key === chord.key;
}

/** The global action a keydown asks for, if any. */
export function globalAction(event: KeyboardEvent): GlobalAction | null {
  for (const shortcut of SHORTCUTS) {
    if (shortcut.action && shortcut.chords.some((chord) => matches(event, chord))) return shortcut.action;
  }
  return null;
}
