/**
 * Float64 reference of sampling: argmax (ties to the lowest index, as torch.argmax) and temperature +
 * top-p (nucleus) sampling driven by one uniform number per row.
 *   q[v] = exp((logits[v] − max) / T); order the tokens by (q descending, index ascending); the nucleus is
 *   the shortest prefix whose mass reaches topP·Σq (every token for topP >= 1); the choice is the first
 *   nucleus token in index order whose cumulative nucleus mass exceeds u·(nucleus mass), or the last
 *   nucleus token if none does.
 */
export function argmaxReference(row: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v]! > row[best]!) best = v;
  return best;
}

function temperedProbabilities(row: ArrayLike<number>, temperature: number): Float64Array {
  const max = row[argmaxReference(row)]!;
  return Float64Array.from(row, (l) => Math.exp((l - max) / temperature));
}

/** Which tokens are in the nucleus, and their unnormalized probabilities q. */
function nucleus(row: ArrayLike<number>, temperature: number, topP: number): { q: Float64Array; member: boolean[] } {
  const q = temperedProbabilities(row, temperature);
  if (topP >= 1) return { q, member: Array.from(q, () => true) };
  const total = q.reduce((sum, value) => sum + value, 0);
  const order = Array.from(q.keys()).sort((a, b) => q[b]! - q[a]! || a - b);
  const member = Array.from(q, () => false);
  let mass = 0;
  for (const v of order) {
    member[v] = true;
    mass += q[v]!;
    if (mass >= topP * total) break;
  }
  return { q, member };
}

/** The renormalized nucleus distribution over the vocabulary (0 outside the nucleus). */
export function nucleusProbabilities(row: ArrayLike<number>, temperature: number, topP: number): Float64Array {
  const { q, member } = nucleus(row, temperature, topP);
  const kept = q.map((value, v) => (member[v] ? value : 0));
  const mass = kept.reduce((sum, value) => sum + value, 0);
  return kept.map((value) => value / mass);
}

export function sampleTopPReference(row: ArrayLike<number>, temperature: number, topP: number, u: number): number {
  const { q, member } = nucleus(row, temperature, topP);
  const mass = q.reduce((sum, value, v) => sum + (member[v] ? value : 0), 0);
  let cumulative = 0;
  let last = -1;
  for (let v = 0; v < q.length; v++) {
    if (!member[v]) continue;
    cumulative += q[v]!;
    last = v;
    if (cumulative > u * mass) return v;
  }
  return last;
}
