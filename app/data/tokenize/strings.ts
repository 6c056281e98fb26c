/** Length of the longest common prefix of two strings, never ending between the halves of a surrogate pair. */
export function commonPrefixLength(a: string, b: string): number {
  const limit = Math.min(a.length, b.length);
  let length = 0;
  while (length < limit && a.charCodeAt(length) === b.charCodeAt(length)) length++;
  if (length > 0 && length < limit && isHighSurrogate(a.charCodeAt(length - 1))) length--;
  return length;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
