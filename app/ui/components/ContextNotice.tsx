import { useStudio } from '../../state/store.ts';
import { contextNotice } from '../../train/context-length.ts';

/** Says, before a run, that the recipe's max_length is beyond the loaded model's context and will be clamped. */
export function ContextNotice() {
  const maxLength = useStudio((state) => state.recipe.max_length);
  const source = useStudio((state) => state.recipe.model.source);
  const summary = useStudio((state) => state.model.summary);
  const notice = summary && summary.source === source ? contextNotice(maxLength, summary.maxPositions) : undefined;
  return notice ? (
    <p className="banner warn" role="note" data-testid="context-notice">
      {notice}
    </p>
  ) : null;
}
