/**
 * The Train page's recipe controls: a number, a choice or a switch, each labelled, with its one-line
 * explanation, and the recipe problem at its path shown under it. Every control carries
 * data-recipe-path, so a problem listed at the top of the page can move focus to the field at fault.
 */
import { useId, useState, type ReactNode } from 'react';
import { Field } from '../components/Field.tsx';
import type { RecipeProblem } from '../../train/recipe.ts';

/** Problems at `path` or inside it (optimizer.betas also owns optimizer.betas[1]). */
export function problemsAt(problems: readonly RecipeProblem[], path: string): RecipeProblem[] {
  return problems.filter((p) => p.path === path || p.path.startsWith(`${path}.`) || p.path.startsWith(`${path}[`));
}

function Hint({ text, problems }: { text: ReactNode; problems: readonly RecipeProblem[] }) {
  return (
    <>
      {text}
      {problems.map((p) => (
        <span key={p.message} className="field-problem">
          {p.message}
        </span>
      ))}
    </>
  );
}

/**
 * A number typed freely: the recipe changes as soon as the text is a number, and while it is not
 * (empty, "1e-") the text stays as typed and the recipe keeps its last value.
 */
export function NumberField({
  label,
  hint,
  path,
  value,
  onChange,
  problems,
  integer = false,
  min,
  max,
  step,
}: {
  label: string;
  hint: ReactNode;
  path: string;
  value: number | undefined;
  onChange(value: number): void;
  problems: readonly RecipeProblem[];
  integer?: boolean;
  min?: number;
  max?: number;
  step?: number | 'any';
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const here = problemsAt(problems, path);
  const parsed = draft === null ? undefined : Number(draft);
  const draftInvalid = draft !== null && (draft.trim() === '' || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)));
  return (
    <Field label={label} hint={<Hint text={hint} problems={here} />}>
      {(props) => (
        <input
          {...props}
          type="number"
          inputMode={integer ? 'numeric' : 'decimal'}
          data-recipe-path={path}
          value={draft ?? (value === undefined ? '' : String(value))}
          min={min}
          max={max}
          step={step ?? (integer ? 1 : 'any')}
          aria-invalid={here.length > 0 || draftInvalid ? true : undefined}
          onChange={(event) => {
            const text = event.target.value;
            setDraft(text);
            const number = Number(text);
            if (text.trim() !== '' && Number.isFinite(number) && (!integer || Number.isInteger(number))) onChange(number);
          }}
          onBlur={() => setDraft(null)}
        />
      )}
    </Field>
  );
}

export function SelectField<Value extends string>({
  label,
  hint,
  path,
  value,
  options,
  onChange,
  problems,
}: {
  label: string;
  hint: ReactNode;
  path: string;
  value: Value;
  options: readonly { value: Value; label: string }[];
  onChange(value: Value): void;
  problems: readonly RecipeProblem[];
}) {
  const here = problemsAt(problems, path);
  return (
    <Field label={label} hint={<Hint text={hint} problems={here} />}>
      {(props) => (
        <select {...props} data-recipe-path={path} value={value} aria-invalid={here.length > 0 ? true : undefined} onChange={(event) => onChange(event.target.value as Value)}>
          {options.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** A switch whose label follows the box, as people expect of checkboxes. */
export function CheckboxField({ label, hint, path, checked, onChange }: { label: string; hint: ReactNode; path: string; checked: boolean; onChange(checked: boolean): void }) {
  const id = useId();
  return (
    <div className="field checkbox-field">
      <label htmlFor={id}>
        <input id={id} type="checkbox" data-recipe-path={path} checked={checked} aria-describedby={`${id}-hint`} onChange={(event) => onChange(event.target.checked)} /> {label}
      </label>
      <small id={`${id}-hint`} className="muted field-hint">
        {hint}
      </small>
    </div>
  );
}
