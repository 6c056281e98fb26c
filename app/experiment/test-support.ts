/**
 * Tasks whose answer is known by construction, for experiment tests on the real tiny model. Every
 * task maps a sentence about an animal to the colour that follows it: the target and the helper map
 * every animal to red, in different words; the conflict task maps every animal to blue, in the
 * target's own words. So the helper's extra examples can only reinforce the target's answer and the
 * conflict's can only pull it away, whatever else the model learns. Rows differ by name, place and
 * animal, so none repeats.
 */
export const ANIMALS = ['cat', 'dog', 'bird', 'fish'] as const;
export const NAMES = ['Tom', 'Ben', 'Sam', 'Max', 'Sue', 'Ann', 'Tim', 'Kim'] as const;
export const PLACES = ['in the park', 'at home', 'by the tree'] as const;

export type Wording = (name: string, animal: string, place: string) => string;

export const TARGET_WORDING: Wording = (name, animal, place) => `${name} saw a ${animal} ${place}. It was`;
export const HELPER_WORDING: Wording = (name, animal, place) => `${place}, ${name} has a ${animal}. It is`;

/** JSONL rows {prompt, completion}: every name, animal and place, each answered with `colour`. */
export function colourTask(wording: Wording, colour: 'red' | 'blue', names: readonly string[] = NAMES): string {
  const rows: string[] = [];
  for (const name of names) for (const animal of ANIMALS) for (const place of PLACES) rows.push(JSON.stringify({ prompt: wording(name, animal, place), completion: ` ${colour}.` }));
  return `${rows.join('\n')}\n`;
}
