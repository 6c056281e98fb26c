import { CocktailError } from '../errors.ts';

/** Parses `--flag` switches; anything else is an error that names the argument and what is allowed. */
export function parseFlags<const F extends string>(command: string, args: string[], allowed: readonly F[]): Record<F, boolean> {
  const flags = Object.fromEntries(allowed.map((flag) => [flag, false])) as Record<F, boolean>;
  for (const arg of args) {
    const name = arg.replace(/^--/, '') as F;
    if (!arg.startsWith('--') || !allowed.includes(name)) {
      throw new CocktailError('BAD_ARGUMENT', `unknown argument "${arg}"; ${command} takes ${allowed.map((f) => `--${f}`).join(', ') || 'no arguments'}`);
    }
    flags[name] = true;
  }
  return flags;
}
