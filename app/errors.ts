/**
 * Every error the engine raises on purpose is a CocktailError with a stable `code`, so the UI, the
 * worker protocol and the CLI can react to the kind of failure without parsing messages. Messages
 * are for people: they name the file, field, tensor or limit at fault and say what to do.
 */
export class CocktailError extends Error {
  readonly code: string;
  /** Structured facts about the failure (tensor name, limit, line number, ...), safe to clone. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** A plain, structured-clone-safe description of any thrown value (for worker messages and logs). */
export interface ErrorReport {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export function toErrorReport(error: unknown): ErrorReport {
  if (error instanceof CocktailError) {
    return { code: error.code, message: error.message, details: { ...error.details } };
  }
  if (error instanceof Error) return { code: 'INTERNAL', message: `${error.name}: ${error.message}` };
  return { code: 'INTERNAL', message: String(error) };
}
