/** `dummynet graph FILE`: draw a topology as Mermaid, Graphviz DOT or SVG. */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { DummyNetError } from "../../errors.js";
import { load, warn } from "../command-io.js";
import { dim, EXIT } from "../output.js";

export async function graph(file: string, options: { format: string; output?: string }): Promise<number> {
  const topology = await load(file);
  const { toDot, toMermaid } = await import("../../topology/graph.js");
  let text: string | Buffer;
  if (options.format === "mermaid") text = toMermaid(topology);
  else if (options.format === "dot") text = toDot(topology);
  else text = await renderSvg(toDot(topology));
  if (options.output) {
    writeFileSync(options.output, text);
    warn(dim(`wrote ${options.output}`, process.stderr));
  } else process.stdout.write(text);
  return EXIT.ok;
}

function renderSvg(dot: string): Promise<Buffer> {
  return new Promise((resolveSvg, reject) => {
    const child = spawn("dot", ["-Tsvg"], { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") {
        reject(
          new DummyNetError(
            "SVG needs Graphviz's `dot`, which is not installed: install graphviz (e.g. apt-get install graphviz), or use --format dot or --format mermaid",
          ),
        );
      } else reject(error);
    });
    child.on("close", (code) => {
      if (code === 0) resolveSvg(Buffer.concat(out));
      else reject(new DummyNetError(`dot -Tsvg failed (exit ${code}): ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(dot);
  });
}
