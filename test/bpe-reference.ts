/**
 * An independent, deliberately naive implementation of the sentencepiece-style BPE that the fixture's
 * tokenizer.json describes (Prepend "▁" + Replace " "→"▁" normalizer, BPE with byte fallback,
 * TemplateProcessing "<s> $A"), written from the Hugging Face tokenizers documentation, to check the
 * library's encoding against. Only for tokenizer.json files of that shape.
 */
interface BpeJson {
  model: { vocab: Record<string, number>; merges: ([string, string] | string)[] };
}

export function referenceBpeEncode(json: BpeJson, text: string, bosId: number | null): number[] {
  const { vocab } = json.model;
  const rank = new Map<string, number>();
  json.model.merges.forEach((merge, i) => rank.set(Array.isArray(merge) ? merge.join(' ') : merge, i));
  const ids: number[] = bosId === null ? [] : [bosId];
  if (text.length === 0) return ids;
  const normalized = `▁${text.replaceAll(' ', '▁')}`;
  let symbols: string[] = [];
  for (const char of normalized) {
    if (char in vocab) symbols.push(char);
    else for (const byte of new TextEncoder().encode(char)) symbols.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
  }
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = rank.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    symbols = [...symbols.slice(0, best), symbols[best]! + symbols[best + 1]!, ...symbols.slice(best + 2)];
  }
  for (const symbol of symbols) ids.push(vocab[symbol]!);
  return ids;
}
