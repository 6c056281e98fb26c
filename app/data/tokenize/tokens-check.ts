/**
 * Pre-tokenized rows pass through unchanged, but only if they fit the model: ids in the vocabulary,
 * labels of the same length, each label -100 or an id. A row from another tokenizer would otherwise
 * train on garbage, or index past the embedding.
 */
import { IGNORE_INDEX, type TokenExample } from '../example.ts';

export interface TokenProblem {
  readonly field: 'input_ids' | 'labels';
  readonly message: string;
}

export function tokenExampleProblem(example: TokenExample, vocabSize: number): TokenProblem | null {
  const { inputIds, labels } = example;
  if (inputIds.length === 0) return { field: 'input_ids', message: 'there are no tokens' };
  if (labels.length !== inputIds.length) return { field: 'labels', message: `${inputIds.length} input_ids but ${labels.length} labels; they must have the same length` };
  const badId = inputIds.findIndex((id) => id < 0 || id >= vocabSize);
  if (badId !== -1) {
    return { field: 'input_ids', message: `token ${badId + 1} is ${inputIds[badId]}, outside this tokenizer's vocabulary [0, ${vocabSize}); the rows were made with another tokenizer` };
  }
  const badLabel = labels.findIndex((label) => label !== IGNORE_INDEX && (label < 0 || label >= vocabSize));
  if (badLabel !== -1) {
    return { field: 'labels', message: `label ${badLabel + 1} is ${labels[badLabel]}; a label is ${IGNORE_INDEX} or a token id in [0, ${vocabSize})` };
  }
  return null;
}
