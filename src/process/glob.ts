/**
 * fnmatch-style globs with Python's semantics (`fnmatch.fnmatchcase`), which
 * the reference's `RunInfo.match()` uses: `*` any run of characters, `?` one
 * character, `[seq]` one character of seq, `[!seq]` one character not in seq;
 * everything else is literal and the whole string must match.
 */

/** Compiles an fnmatch pattern into an anchored RegExp (case-sensitive, as on POSIX). */
export function globToRegExp(pattern: string): RegExp {
  const chars = Array.from(pattern); // code points, so `?` matches one character, not half a surrogate pair
  // Tokens: STAR, or the regex source of one non-star element.
  const tokens: (string | typeof STAR)[] = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i++];
    if (c === "*") {
      if (tokens.at(-1) !== STAR) tokens.push(STAR); // consecutive stars mean the same as one
    } else if (c === "?") {
      tokens.push("[^]");
    } else if (c === "[") {
      const parsed = parseBracket(chars, i);
      if (parsed === undefined) {
        tokens.push(escapeLiteral("["));
      } else {
        tokens.push(parsed.source);
        i = parsed.next;
      }
    } else {
      tokens.push(escapeLiteral(c));
    }
  }
  return new RegExp(`^(?:${joinWithoutBacktracking(tokens)})$`, "u");
}

const STAR = Symbol("*");

/**
 * Python's translation: an interior `*fixed` becomes a lazy match of the
 * first `fixed` inside a lookahead, consumed through a backreference, which
 * behaves as an atomic group: no backtracking, so `*a*a*a*b` stays linear.
 */
function joinWithoutBacktracking(tokens: readonly (string | typeof STAR)[]): string {
  let source = "";
  let i = 0;
  while (i < tokens.length && tokens[i] !== STAR) source += tokens[i++] as string;
  let group = 0;
  while (i < tokens.length) {
    i++; // the star
    if (i === tokens.length) {
      source += "[^]*";
      break;
    }
    let fixed = "";
    while (i < tokens.length && tokens[i] !== STAR) fixed += tokens[i++] as string;
    if (i === tokens.length) {
      source += `[^]*${fixed}`;
    } else {
      group++;
      source += `(?=(?<g${group}>[^]*?${fixed}))\\k<g${group}>`;
    }
  }
  return source;
}

/** True when `text` matches `pattern` as a whole. */
export function fnmatch(text: string, pattern: string): boolean {
  return globToRegExp(pattern).test(text);
}

/** The lines of `lines` that match `pattern`, like Python's `fnmatch.filter`. */
export function fnmatchFilter(lines: readonly string[], pattern: string): string[] {
  const regex = globToRegExp(pattern);
  return lines.filter((line) => regex.test(line));
}

/**
 * Python's `str.splitlines()`: splits on every line boundary Python knows and
 * drops the empty string after a final line break.
 */
export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/u);
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * Parses a bracket expression whose `[` sits just before `start`. Returns
 * undefined when there is no closing `]` (then `[` is a literal, as in Python).
 */
function parseBracket(chars: readonly string[], start: number): { source: string; next: number } | undefined {
  let j = start;
  if (chars[j] === "!") j++;
  if (chars[j] === "]") j++; // a `]` first in the set is a member, not the end
  while (j < chars.length && chars[j] !== "]") j++;
  if (j >= chars.length) return undefined;

  let body = chars.slice(start, j);
  const negated = body[0] === "!";
  if (negated) body = body.slice(1);

  const members: string[] = [];
  let k = 0;
  while (k < body.length) {
    const from = body[k];
    if (body[k + 1] === "-" && k + 2 < body.length) {
      const to = body[k + 2];
      // Python drops reversed ranges such as z-a instead of failing.
      if ((from.codePointAt(0) ?? 0) <= (to.codePointAt(0) ?? 0))
        members.push(`${escapeInClass(from)}-${escapeInClass(to)}`);
      k += 3;
    } else {
      members.push(escapeInClass(from));
      k += 1;
    }
  }
  let source: string;
  if (members.length === 0) {
    // An empty set matches nothing; its negation matches any character.
    source = negated ? "[^]" : "(?!)";
  } else {
    source = `[${negated ? "^" : ""}${members.join("")}]`;
  }
  return { source, next: j + 1 };
}

function escapeLiteral(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/u.test(c) ? `\\${c}` : c;
}

function escapeInClass(c: string): string {
  return /[\\\]\[^-]/u.test(c) ? `\\${c}` : c;
}
