/**
 * Reading `ip -j` / `tc -j` output. Linux allows control characters in
 * interface names (only '/', ':' and blanks are refused), and iproute2 prints
 * them raw inside JSON strings, which JSON.parse rejects: one odd interface
 * anywhere on the machine would break every listing. Escape them first.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape of the JSON; it is not checked
export function parseIpJson<T>(text: string): T {
  // Blanks (\t \n \r) cannot be in names, so any that remain are JSON whitespace; other control characters are escaped.
  const escaped = text.replace(
    /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return JSON.parse(escaped) as T;
}

/** An `ip -j` listing as an array: empty output (nothing to list) is an empty array. */
export function parseIpJsonArray<T>(text: string): T[] {
  if (!text.trim()) return [];
  const parsed = parseIpJson<unknown>(text);
  return Array.isArray(parsed) ? (parsed as T[]) : [];
}
