import type { TokenViewEntry } from '../../data/tokenize/token-view.ts';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Field } from '../components/Field.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { prepareProgressLabel } from './prepare-stages.ts';

/** Whitespace a reader would not see: a line break and a tab get a visible sign. */
function visible(token: string): string {
  return token.replace(/\n/g, '↵').replace(/\t/g, '⇥');
}

function TokenChip({ entry }: { entry: TokenViewEntry }) {
  const title = `id ${entry.id} “${entry.piece}”: ${entry.trained ? 'carries loss' : 'no loss'}${entry.special ? ', special token' : ''}${entry.role ? `, ${entry.role} turn` : ''}`;
  return (
    <span className="token" data-trained={entry.trained ? 'true' : 'false'} data-special={entry.special ? 'true' : 'false'} title={title}>
      {visible(entry.token)}
    </span>
  );
}

function Legend() {
  return (
    <ul className="token-legend" aria-label="Legend">
      <li>
        <span className="token" data-trained="true" data-special="false">
          trained
        </span>{' '}
        carries loss: the model learns to produce it
      </li>
      <li>
        <span className="token" data-trained="false" data-special="false">
          context
        </span>{' '}
        no loss: the model reads it only
      </li>
      <li>
        <span className="token" data-trained="false" data-special="true">
          &lt;s&gt;
        </span>{' '}
        special token (dashed border)
      </li>
    </ul>
  );
}

/**
 * A task's first examples tokenized as training tokenizes them, every token a chip coloured by
 * whether it carries loss, with the task's statistics (which the Mixture page uses too).
 */
export function TokenView({ task, onTaskChange }: { task: string | undefined; onTaskChange(name: string): void }) {
  const tasks = useStudio((state) => state.recipe.tasks);
  const model = useStudio((state) => state.recipe.model);
  const recipeMaxLength = useStudio((state) => state.recipe.max_length);
  const trainOnPrompts = useStudio((state) => state.recipe.train_on_prompts);
  const view = useStudio((state) => state.tokenView);
  const stats = useStudio((state) => (task === undefined ? undefined : state.taskStats[task]));
  const chosen = task !== undefined && tasks.some((t) => t.name === task) ? task : tasks[0]?.name;
  const shown = view && view.task === chosen ? view : undefined;
  // Once tokenized, the length the engine cut at: the recipe's clamped to the model's context, as a run clamps it.
  const maxLength = shown?.maxLength ?? recipeMaxLength;

  if (tasks.length === 0) {
    return <p className="muted">Add a task to see its tokens. (A Hub data set is downloaded into this browser the first time.)</p>;
  }
  return (
    <div className="token-view">
      <div className="row">
        <Field label="Task to tokenize">
          {(props) => (
            <select {...props} value={chosen} onChange={(event) => onTaskChange(event.target.value)}>
              {tasks.map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="button" disabled={chosen === undefined || shown?.status === 'loading'} onClick={() => chosen && void useStudio.getState().showTokenView(chosen)}>
          Show tokens
        </button>
      </div>
      <p className="muted">
        Tokenized with the recipe’s model <code>{model.source}</code>@{model.revision ?? 'main'} (its tokenizer is downloaded once), at most {maxLength} tokens per example
        {maxLength < recipeMaxLength && <> (the model’s context; the recipe asks for {recipeMaxLength})</>},{' '}
        {trainOnPrompts ? 'prompts trained too' : 'loss on the answers only'} (Train page settings).
      </p>
      {shown?.status === 'loading' && (
        <ProgressBar
          label={prepareProgressLabel(shown.progress, shown.task)}
          value={shown.progress?.done ?? 0}
          max={shown.progress?.total ?? null}
        />
      )}
      {shown?.status === 'failed' && shown.error && <ErrorNotice error={shown.error} title={`Could not tokenize ${shown.task}`} />}
      {shown?.status === 'done' && (
        <>
          <Legend />
          {stats && chosen === shown.task && (
            <dl className="facts" data-testid="task-stats">
              <dt>Rows in the file</dt>
              <dd>{stats.rows.toLocaleString('en')}</dd>
              <dt>Training examples</dt>
              <dd>{stats.examples.toLocaleString('en')}</dd>
              <dt>Validation examples</dt>
              <dd>{stats.validation.toLocaleString('en')}</dd>
              <dt>Mean tokens per example</dt>
              <dd>{stats.meanTokens.toFixed(1)}</dd>
              <dt>Mean tokens that carry loss</dt>
              <dd>{stats.meanTrainedTokens.toFixed(1)}</dd>
            </dl>
          )}
          <ol className="token-examples" aria-label={`First examples of ${shown.task}`}>
            {shown.examples?.map((example) => (
              <li key={example.row} data-testid="token-example">
                <p className="example-counts">
                  Row {example.row}: <strong data-testid="trained-count">{example.trained}</strong> of {example.tokens.length} tokens carry loss
                  {example.truncated && <span className="severity warning"> truncated to {maxLength}</span>}
                </p>
                <p className="tokens">
                  {example.tokens.map((entry, position) => (
                    <TokenChip key={position} entry={entry} />
                  ))}
                </p>
              </li>
            ))}
          </ol>
          {shown.skipped && shown.skipped.length > 0 && (
            <div className="banner warn">
              <p>Rows the format could not use (left out of training):</p>
              <ul>
                {shown.skipped.map((skip) => (
                  <li key={skip.row}>
                    Row {skip.row}: {skip.reason}
                  </li>
                ))}
              </ul>
            </div>
          )}
        </>
      )}
    </div>
  );
}
