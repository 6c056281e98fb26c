/** max |got − want| / max |want|: error relative to the output's scale. NaN anywhere counts as Infinity. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new RangeError(`relativeError: lengths differ (${got.length} vs ${want.length})`);
  let maxError = 0;
  let maxReference = 0;
  for (let i = 0; i < want.length; i++) {
    // NaN compares false with everything: make it an infinite error, never a silent pass.
    const error = Math.abs(got[i]! - want[i]!);
    maxError = Math.max(maxError, Number.isNaN(error) ? Infinity : error);
    maxReference = Math.max(maxReference, Math.abs(want[i]!));
  }
  return maxError / Math.max(maxReference, Number.MIN_VALUE);
}
