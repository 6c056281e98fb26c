import { useSyncExternalStore } from 'react';
import { useStudio } from '../../state/store.ts';
import { FINANCE_COCKTAIL, SUGGESTED_MODELS } from '../../studio/presets.ts';
import { hrefFor, navigate, type PageId } from '../routes.ts';

const WORKFLOW: { page: PageId; label: string; what: string }[] = [
  { page: 'model', label: 'Model', what: 'choose a small model from the Hub or open one from local files' },
  { page: 'tasks', label: 'Tasks', what: 'import the data of each task and map its columns' },
  { page: 'mixture', label: 'Mixture', what: 'decide how often each task is sampled' },
  { page: 'train', label: 'Train', what: 'train one LoRA adapter on the mixture, on this GPU' },
  { page: 'evaluate', label: 'Evaluate', what: 'compare the tasks’ metrics before and after' },
  { page: 'playground', label: 'Playground', what: 'talk to the base model and the adapter side by side' },
];

const subscribe = (onChange: () => void) => {
  window.addEventListener('online', onChange);
  window.addEventListener('offline', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    window.removeEventListener('offline', onChange);
  };
};

function useOnline(): boolean {
  return useSyncExternalStore(subscribe, () => navigator.onLine);
}

const FINANCE_MODEL = SUGGESTED_MODELS.find((model) => model.id === FINANCE_COCKTAIL.model.source);

/** One click to a working recipe: the Finance cocktail, and its model downloading on the Model page. */
function tryFinanceCocktail() {
  const { setRecipe, loadModel } = useStudio.getState();
  setRecipe(FINANCE_COCKTAIL);
  navigate('model');
  void loadModel(FINANCE_COCKTAIL.model);
}

/** The studio's steps, each a link to its page. */
export function WorkflowSteps() {
  return (
    <ol className="workflow" aria-label="Workflow">
      {WORKFLOW.map((step) => (
        <li key={step.page}>
          <a href={hrefFor(step.page)}>{step.label}</a>: {step.what}
        </li>
      ))}
    </ol>
  );
}

/** For a first visit (no model loaded or stored yet): how to begin, with a network or without. */
export function GuidedStart() {
  const online = useOnline();
  return (
    <section className="panel guided-start" aria-labelledby="guided-start-title">
      <h2 id="guided-start-title">Get started</h2>
      <p>
        Cocktail Studio teaches a small language model several tasks at once with one LoRA adapter, mixing the tasks’ data by a schedule you choose. Everything runs
        in this browser, on this computer’s GPU; nothing is uploaded.
      </p>
      {online ? (
        <div className="guided-try">
          <button type="button" onClick={tryFinanceCocktail}>
            Try the Finance cocktail
          </button>
          <p className="muted">
            Fills the recipe with the Finance cocktail (financial phrase and tweet sentiment as tasks, with math word problems and general instructions as
            regularizers) and downloads {FINANCE_COCKTAIL.model.source}
            {FINANCE_MODEL ? ` (${FINANCE_MODEL.download})` : ''} on the Model page. Its four data sets come from the Hub too: the{' '}
            <a href={hrefFor('mixture')}>Mixture page</a> downloads and counts them before training (or training does). Both are kept in this browser, for offline use.
          </p>
        </div>
      ) : (
        <div className="banner warn" role="status">
          <p>
            <strong>You are offline.</strong> Models and data sets cannot be downloaded now, but everything else works:
          </p>
          <ol>
            <li>
              On the <a href={hrefFor('model')}>Model page</a>, open a model from local files: a folder with config.json, tokenizer.json and .safetensors weights.
            </li>
            <li>
              On the <a href={hrefFor('tasks')}>Tasks page</a>, import your task files (CSV, JSON Lines, Parquet, ...).
            </li>
          </ol>
        </div>
      )}
      <h3>The steps</h3>
      <WorkflowSteps />
    </section>
  );
}
