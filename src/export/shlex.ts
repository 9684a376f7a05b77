/**
 * The words of an `exec` command as containerlab reads them: it splits each
 * exec string with google/shlex (single quotes literal, double quotes and
 * backslashes escaping, `#` opening a comment at the start of a word) and runs
 * the words without a shell. `quoteWord` writes a word so that the split gives
 * it back, and so that the text holds no `{{` (containerlab renders the file as
 * a Go template first); sh reads the same quoting, so `sh -c` scripts use it too.
 */

/** Characters that need no quoting, for shlex and for sh. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word, quoted when it must be: `'...'` (or `"..."` around a `'`), a `'` inside written `'"'"'`, a `{{` broken by an empty `''`. */
export function quoteWord(word: string): string {
  if (PLAIN.test(word)) return word;
  // Double quotes read the same in shlex and sh when the word has none of the characters they treat specially.
  if (word.includes("'") && !/["$`\\]/.test(word)) return `"${word.replace(/\{(?=\{)/g, '{""')}"`;
  return `'${word.replaceAll("'", `'"'"'`).replace(/\{(?=\{)/g, "{''")}'`;
}

/** An argument vector as one exec string (or one sh command line: a first word with `=` is quoted, so sh never takes it for an assignment). */
export function joinWords(words: readonly string[]): string {
  return words
    .map((word, i) => (i === 0 && word.includes("=") && PLAIN.test(word) ? `'${word}'` : quoteWord(word)))
    .join(" ");
}

/** What a split found wrong: an unterminated quote, a backslash at the end. */
export class ShlexError extends Error {
  override name = "ShlexError";
}

/**
 * Splits `text` into words exactly as google/shlex's Split does (the states
 * of its lexer: word, single-quoted, double-quoted, escape, comment).
 *
 * @throws ShlexError for an unterminated quote or a trailing backslash.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  type State = "start" | "word" | "escape" | "quotedEscape" | "double" | "single" | "comment";
  let state: State = "start";
  let word = "";
  let inWord = false;
  const end = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  for (const char of text) {
    const space = char === " " || char === "\t" || char === "\r" || char === "\n";
    switch (state) {
      case "start":
      case "word":
        if (space) {
          if (state === "word") end();
          state = "start";
        } else if (char === '"') {
          inWord = true;
          state = "double";
        } else if (char === "'") {
          inWord = true;
          state = "single";
        } else if (char === "\\") {
          inWord = true;
          state = "escape";
        } else if (char === "#" && state === "start") state = "comment";
        else {
          inWord = true;
          word += char;
          state = "word";
        }
        break;
      case "escape":
        word += char;
        state = "word";
        break;
      case "quotedEscape":
        word += char;
        state = "double";
        break;
      case "double":
        if (char === '"') state = "word";
        else if (char === "\\") state = "quotedEscape";
        else word += char;
        break;
      case "single":
        if (char === "'") state = "word";
        else word += char;
        break;
      case "comment":
        if (char === "\n") state = "start";
        break;
    }
  }
  if (state === "escape" || state === "quotedEscape")
    throw new ShlexError(`EOF found after escape character in ${text}`);
  if (state === "double" || state === "single")
    throw new ShlexError(`EOF found when expecting closing quote in ${text}`);
  if (state === "word") end();
  return words;
}
