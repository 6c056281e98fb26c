import type { ReactNode } from 'react';
import type { PaneState } from '../../state/slices/playground.ts';
import { describeBlank, visibleWhitespace } from '../../studio/visible-whitespace.ts';
import { waitingFor } from '../../studio/gpu-jobs.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';

const STOP_REASONS: Record<NonNullable<PaneState['stopReason']>, string> = {
  eos: 'the model ended its answer',
  'stop-string': 'a stop text came',
  'max-new-tokens': 'the token limit was reached',
  'context-full': 'the model’s context is full',
};

function statusLine(pane: PaneState): string {
  const rate = pane.tokensPerSecond !== undefined ? `, ${pane.tokensPerSecond.toFixed(1)} tokens/s` : '';
  switch (pane.status) {
    case 'idle':
      return 'Nothing generated yet.';
    case 'waiting':
      return 'Waiting for the other pane (one GPU, one generation at a time)…';
    case 'generating':
      if (pane.waitingBehind) return waitingFor(pane.waitingBehind);
      return pane.tokens === 0 ? 'Loading the model and reading the prompt…' : `Generating: ${pane.tokens} token${pane.tokens === 1 ? '' : 's'}${rate}`;
    case 'done': {
      const blank = describeBlank(pane.text);
      return `Done: ${pane.tokens} token${pane.tokens === 1 ? '' : 's'}${rate}${pane.stopReason ? `; stopped because ${STOP_REASONS[pane.stopReason]}` : ''}.${blank ? ` The answer is only whitespace: ${blank}.` : ''}`;
    }
    case 'stopped':
      return `Stopped after ${pane.tokens} token${pane.tokens === 1 ? '' : 's'}.`;
    case 'failed':
      return 'Generation failed.';
  }
}

/** The text with its line breaks, tabs and otherwise invisible spaces marked; the marks are not part of a copy. */
function VisibleText({ text }: { text: string }) {
  return visibleWhitespace(text).map((piece, index) =>
    piece.mark === undefined ? (
      piece.text
    ) : piece.text.includes('\n') ? (
      <span key={index}>
        <span className="ws-mark" aria-hidden="true" data-mark={piece.mark} />
        {piece.text}
      </span>
    ) : (
      <span key={index} className="ws-mark" data-mark={piece.mark}>
        {piece.text}
      </span>
    ),
  );
}

/** One model's answer, streaming in, with its speed, or the error that stopped it. */
export function OutputPane({ id, title, subtitle, pane, empty, header }: { id: string; title: string; subtitle: string; pane: PaneState; empty?: string; header?: ReactNode }) {
  return (
    <section className={`output-pane status-${pane.status}`} aria-labelledby={`${id}-title`} data-testid={`pane-${id}`}>
      <h3 id={`${id}-title`}>{title}</h3>
      <p className="muted pane-subtitle">{subtitle}</p>
      {header}
      <div className="pane-text" aria-live="polite" aria-busy={pane.status === 'generating'} data-testid={`pane-${id}-text`}>
        {pane.text ? <VisibleText text={pane.text} /> : empty && pane.status === 'idle' ? <span className="muted">{empty}</span> : ''}
      </div>
      <p className="muted pane-status" role="status" data-testid={`pane-${id}-status`}>
        {statusLine(pane)}
      </p>
      {pane.error && <ErrorNotice error={pane.error} title={`${title} could not generate`} />}
    </section>
  );
}
