/**
 * The attention kernel's head-dim limit, apart from the kernel so that code which only checks a model's
 * shape (app/model/config.ts, imported by the CLI and by Playwright specs) does not load the shader.
 * Per-thread vectors (a query, a key, accumulators) are private arrays of this size in the shader.
 */
export const MAX_HEAD_DIM = 128;
