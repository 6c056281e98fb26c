/**
 * A recipe as a string that fits in a link (#/recipes?r=<link>): its JSON in the zlib format (deflate
 * with fflate, plus an Adler-32 checksum that fflate does not check, so we do) written in base64url, behind a version prefix so a later format can still read today's links.
 * Decoding says in words what is wrong with a link that was cut short or changed while being copied,
 * and checks the recipe with the same schema as a recipe file, so a link is no back door.
 */
import { strFromU8, strToU8, Unzlib, zlibSync } from 'fflate';
import { CocktailError } from '../errors.ts';
import { parseRecipe, RecipeError, type Recipe } from '../train/recipe.ts';
import { RECIPE_LIMITS } from '../train/recipe-size.ts';

const LINK_VERSION = '1';
const PREFIX = `${LINK_VERSION}.`;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** btoa takes a binary string; building it in slices keeps String.fromCharCode's argument list short. */
const CHUNK = 0x8000;

/** A zlib stream's two header bytes and four checksum bytes. */
const ZLIB_OVERHEAD = 6;
const CUT_SHORT = 'it was probably cut short when it was copied';

/** The longest link a recipe of the largest allowed size makes (base64 of its compressed bytes, which deflate never grows by more than a few bytes per 16 KiB). */
const MAX_LINK_LENGTH = PREFIX.length + Math.ceil(((RECIPE_LIMITS.bytes * 1.01 + 64) * 4) / 3);
/** Compressed bytes inflated at a time: deflate expands a byte to at most about a thousand, so no step holds more than a megabyte before the size is checked. */
const INFLATE_SLICE = 1024;

/** What the studio names a shared recipe in messages about it. */
export const SHARED_RECIPE_NAME = 'The shared recipe';

export function encodeRecipeLink(recipe: Recipe): string {
  return PREFIX + toBase64Url(zlibSync(strToU8(JSON.stringify(recipe)), { level: 9 }));
}

/**
 * The recipe a link holds, with the schema's defaults filled in. Throws a CocktailError with code
 * RECIPE_LINK_DAMAGED when the link cannot be read, or a RecipeError listing every problem (each with
 * its JSON path) when it holds something that is not a valid recipe.
 */
export function decodeRecipeLink(link: string): Recipe {
  const text = link.trim();
  if (text === '') throw damaged('the link holds no recipe (nothing follows "r=")');
  if (!text.startsWith(PREFIX)) {
    const version = /^(\d+)\./.exec(text)?.[1];
    throw version
      ? damaged(`the link was made by a newer Cocktail Studio (link format ${version}); open it there, or ask for the recipe file instead`)
      : damaged('it does not start like a recipe link; it was probably cut or changed when it was copied');
  }
  // A link longer than any recipe makes, or one that inflates past a recipe's size, is refused before it is read further.
  if (text.length > MAX_LINK_LENGTH) throw tooLarge(`is ${text.length} characters long, longer than a link of the largest recipe (${RECIPE_LIMITS.bytes / 1024} KiB) ever is`);
  const body = text.slice(PREFIX.length);
  if (!BASE64URL.test(body)) throw damaged('it contains characters a recipe link never has; it was probably changed when it was copied');
  // No whole number of bytes is ever written as 4k + 1 base64 characters: the end is missing.
  if (body.length % 4 === 1) throw damaged(CUT_SHORT);
  const zlib = fromBase64Url(body);
  let bytes: Uint8Array;
  try {
    if (zlib.length < ZLIB_OVERHEAD) throw new RangeError('shorter than a zlib header and checksum');
    bytes = inflateAtMost(zlib, RECIPE_LIMITS.bytes);
  } catch (error) {
    if (error instanceof RecipeError) throw error;
    throw damaged(CUT_SHORT);
  }
  if (adler32(bytes) !== new DataView(zlib.buffer, zlib.byteOffset + zlib.length - 4).getUint32(0)) {
    throw damaged('its checksum does not match what it holds; it was probably changed when it was copied');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(strFromU8(bytes));
  } catch {
    throw damaged('what it holds is not a recipe');
  }
  return parseRecipe(raw, SHARED_RECIPE_NAME);
}

/** The full address that opens `recipe` on the Recipes page of the studio at `location`. */
export function recipeShareUrl(recipe: Recipe, location: { origin: string; pathname: string }): string {
  return `${location.origin}${location.pathname}#/recipes?r=${encodeRecipeLink(recipe)}`;
}

function tooLarge(what: string): RecipeError {
  return new RecipeError(SHARED_RECIPE_NAME, [{ path: '', message: `${what}; a recipe is a few kilobytes of settings. It was not loaded.` }]);
}

/** The zlib stream's content, refused as soon as it passes `limit` bytes (a small link can inflate to gigabytes). */
function inflateAtMost(zlib: Uint8Array, limit: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const inflater = new Unzlib((chunk, final) => {
    total += chunk.length;
    if (total > limit) throw tooLarge(`holds more than ${limit / 1024} KiB of recipe`);
    parts.push(chunk);
    ended ||= final;
  });
  for (let start = 0; start < zlib.length; start += INFLATE_SLICE) inflater.push(zlib.subarray(start, start + INFLATE_SLICE), start + INFLATE_SLICE >= zlib.length);
  if (!ended) throw new RangeError('the zlib stream did not end');
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

function damaged(reason: string): CocktailError {
  return new CocktailError(
    'RECIPE_LINK_DAMAGED',
    `This recipe link cannot be read: ${reason}. Ask whoever shared it to copy the whole link again, or to send the recipe file.`,
  );
}

/** RFC 1950's checksum of the uncompressed bytes, which the zlib stream's last four bytes hold (big-endian). */
function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (let start = 0; start < bytes.length; start += CHUNK) binary += String.fromCharCode(...bytes.subarray(start, start + CHUNK));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
