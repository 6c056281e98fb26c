/**
 * The attention kernel's head-dim limits, apart from the kernel so that code which only checks a model's
 * shape (app/model/config.ts, imported by the CLI and by Playwright specs) does not load the shader.
 * MAX_HEAD_DIM: the lane route's (Gemma 3's 256); its threads share a head, 4 vec4s each at most.
 * MAX_ROW_HEAD_DIM: the row route's, whose threads hold whole head vectors of this size (as vec4 fields of a
 * per-head-size struct; dkdv holds four of them).
 */
export const MAX_HEAD_DIM = 256;
export const MAX_ROW_HEAD_DIM = 128;
