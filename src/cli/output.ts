/**
 * Terminal output: colours and a progress line only on an interactive
 * terminal, plain and quiet in CI (CI=true) or when piped. Colours follow
 * the usual switches too: --no-color and NO_COLOR turn them off, FORCE_COLOR
 * (other than 0 or false) turns them on even in a pipe.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

function isInteractive(stream: NodeJS.WriteStream = process.stderr): boolean {
  const ci = process.env["CI"];
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- isTTY is undefined, not false, off a terminal
  return Boolean(stream.isTTY) && !(ci && ci !== "false" && ci !== "0");
}

let colourSwitchedOff = false;

/** `--no-color`: no colours, whatever the environment says. */
export function switchColourOff(): void {
  colourSwitchedOff = true;
}

function useColour(stream: NodeJS.WriteStream): boolean {
  if (colourSwitchedOff) return false;
  const force = process.env["FORCE_COLOR"];
  if (force !== undefined) return force !== "0" && force !== "false";
  if (process.env["NO_COLOR"]) return false;
  return isInteractive(stream);
}
const paint =
  (code: number) =>
  (text: string, stream: NodeJS.WriteStream = process.stdout) =>
    useColour(stream) ? `\x1b[${code}m${text}\x1b[0m` : text;
export const bold = paint(1);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const dim = paint(2);

/** A progress line redrawn in place on a terminal; nothing otherwise. */
export class Progress {
  readonly #enabled = isInteractive(process.stderr);
  #lastDraw = 0;

  update(done: number, total: number, step: string): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (done < total && now - this.#lastDraw < 50) return; // redraw at most 20 times a second
    this.#lastDraw = now;
    const width = 24;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    const columns = process.stderr.columns || 80;
    const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${step}`;
    process.stderr.write(`\r\x1b[K${line.slice(0, columns - 1)}`);
  }

  done(): void {
    if (this.#enabled) process.stderr.write("\r\x1b[K");
  }
}

/** Columns padded to their widest cell (colour codes not counted). */
export function table(header: string[], rows: string[][]): string {
  const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => strip(row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell + " ".repeat(widths[i] - strip(cell).length))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
