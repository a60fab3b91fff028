/**
 * Command lines as a POSIX shell reads words, and no further: `parseCommandLine("grep -n 'a b' \"x\\\"y\"")` is
 * `["grep", "-n", "a b", 'x"y']`. Single quotes keep everything up to the next one; double quotes keep everything
 * but `\"`, `\\`, `\$` and `` \` `` (and drop a backslash-newline); outside quotes a backslash keeps the next
 * character. Nothing is expanded — no variables, globs, tildes, pipes or redirections: the words go to the program
 * as typed (POSIX.1-2017, Shell Command Language, 2.2 Quoting).
 *
 * For the app's dialog that runs a command (shown parsed before it runs), for a process session's target, and for
 * error messages that name a command. Depends on nothing: the renderer and the engine both import it.
 */

/** The words of a command line, or why it has none (an open quote, a trailing backslash, nothing typed). */
export type ParsedCommandLine = { argv: string[] } | { error: string };

/** Characters a word may hold and still be shown without quotes. */
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Characters that a backslash keeps inside double quotes; before any other, the backslash stays. */
const ESCAPED_IN_DOUBLE_QUOTES = new Set(['"', "\\", "$", "`"]);

/**
 * Splits `text` into words as a shell would, without expanding anything. Whitespace (spaces, tabs, newlines)
 * separates words; `''` and `""` make an empty word.
 */
export function parseCommandLine(text: string): ParsedCommandLine {
  const argv: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) argv.push(word);
      word = "";
      inWord = false;
      i += 1;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { error: `a single quote at character ${i + 1} is never closed` };
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      const read = doubleQuoted(text, i + 1);
      if (read === null) return { error: `a double quote at character ${i + 1} is never closed` };
      word += read.value;
      inWord = true;
      i = read.end + 1;
    } else if (c === "\\") {
      if (i + 1 >= text.length) return { error: "the command line ends with a backslash: escape it as \\\\" };
      // A backslash-newline joins two lines; any other escaped character is kept as it is.
      if (text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i += 1;
    }
  }
  if (inWord) argv.push(word);
  if (argv.length === 0) return { error: "the command line is empty: type a program and its arguments" };
  return { argv };
}

/** The text of a double-quoted string from `start` (after its quote) and where its closing quote is, or null. */
function doubleQuoted(text: string, start: number): { value: string; end: number } | null {
  let value = "";
  for (let i = start; i < text.length; i += 1) {
    const c = text[i]!;
    if (c === '"') return { value, end: i };
    if (c === "\\" && i + 1 < text.length) {
      const next = text[i + 1]!;
      if (next === "\n") {
        i += 1;
        continue;
      }
      if (ESCAPED_IN_DOUBLE_QUOTES.has(next)) {
        value += next;
        i += 1;
        continue;
      }
    }
    value += c;
  }
  return null;
}

/**
 * `argv` as one line a shell (and `parseCommandLine`) reads back as the same words: plain words as they are, any
 * other in single quotes (a single quote inside as `'\''`), an empty word as `''`.
 */
export function quoteCommandLine(argv: readonly string[]): string {
  return argv.map(quoteWord).join(" ");
}

function quoteWord(word: string): string {
  if (PLAIN_WORD.test(word)) return word;
  return `'${word.replaceAll("'", "'\\''")}'`;
}
