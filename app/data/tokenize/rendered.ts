/**
 * A conversation rendered as text, before tokenization: where each turn lies and which characters
 * carry loss. Both kinds of template produce this, so one step (encode-rendered.ts) maps characters
 * to tokens for both.
 */
export interface CharSpan {
  /** UTF-16 offset of the first character. */
  readonly start: number;
  /** UTF-16 offset just past the last character. */
  readonly end: number;
}

export interface TurnSpan extends CharSpan {
  /** The characters of this turn that carry loss, or null when the turn is not trained. */
  readonly loss: CharSpan | null;
}

export interface RenderedConversation {
  readonly text: string;
  /** One per turn of the example, in order; together they cover the text from 0 to its end. */
  readonly turns: readonly TurnSpan[];
}
