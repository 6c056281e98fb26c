import { useEffect } from 'react';
import { useStudio } from '../../state/store.ts';
import { LocalModelDrop } from '../model/LocalModelDrop.tsx';
import { MemoryPlanner } from '../model/MemoryPlanner.tsx';
import { ModelCard } from '../model/ModelCard.tsx';
import { ModelChooser } from '../model/ModelChooser.tsx';
import { VerifyEngine } from '../model/VerifyEngine.tsx';

/** The model the recipe trains: choose it (Hub or local files), see what it is, plan memory, verify the engine. */
export function ModelPage() {
  const summary = useStudio((state) => state.model.summary);
  const recipeModel = useStudio((state) => state.recipe.model);
  const status = useStudio((state) => state.model.status);

  useEffect(() => {
    void useStudio.getState().restoreModel();
  }, []);

  // The recipe can change elsewhere (a loaded recipe, a shared link): say so instead of showing the old model as in use.
  const stale = summary && (summary.source !== recipeModel.source || summary.revision !== recipeModel.revision) && status !== 'loading' && status !== 'importing';
  const key = summary ? `${summary.source}@${summary.revision}` : 'none';

  return (
    <div className="model-page">
      {status === 'checking' && <p aria-live="polite">Looking for the recipe’s model in storage…</p>}
      {stale && (
        <div className="banner warn row">
          <span>
            The recipe now names {recipeModel.source}@{recipeModel.revision}, not the model shown below.
          </span>
          <button type="button" onClick={() => void useStudio.getState().loadModel(recipeModel)}>
            Load {recipeModel.source}
          </button>
        </div>
      )}
      <ModelChooser />
      <LocalModelDrop />
      {summary && (
        <>
          <ModelCard summary={summary} />
          <MemoryPlanner key={key} summary={summary} />
          <VerifyEngine key={`verify-${key}`} summary={summary} />
        </>
      )}
    </div>
  );
}
