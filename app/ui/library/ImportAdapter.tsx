import { useId } from 'react';
import { useStudio } from '../../state/store.ts';
import { ErrorNotice } from '../components/ErrorNotice.tsx';

/**
 * Brings a PEFT LoRA adapter into the library: its zip, or adapter_config.json and
 * adapter_model.safetensors chosen together. It is checked against the recipe's model when that
 * model is stored, tensor by tensor; problems name the file at fault and nothing is stored.
 */
export function ImportAdapter() {
  const state = useStudio((s) => s.library.adapterImport);
  const model = useStudio((s) => s.recipe.model.source);
  const id = useId();
  return (
    <div className="library-import">
      <div className="field">
        <label htmlFor={id}>Import PEFT adapter</label>
        <input
          id={id}
          type="file"
          multiple
          accept=".zip,.json,.safetensors,application/zip"
          aria-describedby={`${id}-hint`}
          disabled={state.status === 'checking'}
          onChange={(event) => {
            const files = [...(event.target.files ?? [])];
            // Cleared so choosing the same files again (after fixing them) is a change too.
            event.target.value = '';
            if (files.length > 0) void useStudio.getState().importAdapter(files);
          }}
        />
        <small id={`${id}-hint`} className="muted field-hint">
          A .zip with adapter_config.json and adapter_model.safetensors, or those two files together. It is checked against {model} when that model is stored.
        </small>
      </div>
      {state.status === 'checking' && <p role="status">Checking the adapter…</p>}
      {state.status === 'done' && state.summary && (
        <p role="status" className="banner ok">
          Imported <code>{state.key}</code>: LoRA rank {state.summary.r}, alpha {state.summary.alpha}, on {state.summary.targets.join(', ')}
          {state.summary.checkedAgainstModel ? `; every tensor fits ${model}.` : `; ${model} is not stored, so only the files’ own consistency was checked.`}
        </p>
      )}
      {state.status === 'failed' && state.error && <ErrorNotice error={state.error} title="The adapter was not imported" />}
    </div>
  );
}
