/** Options of the topology schema's validator: shared by the loader and the build step that precompiles it. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false } as const;
