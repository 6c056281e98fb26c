import type { PlaygroundSettings } from '../../state/slices/playground.ts';
import { useStudio } from '../../state/store.ts';
import { Field } from '../components/Field.tsx';
import { NumberInput } from '../mixture/NumberInput.tsx';

type NumericSetting = 'maxNewTokens' | 'temperature' | 'topP' | 'seed';

const FIELDS: readonly { key: NumericSetting; label: string; hint: string; min: number; max?: number; step: number }[] = [
  { key: 'maxNewTokens', label: 'Max new tokens', hint: 'How long each answer may get.', min: 1, max: 4096, step: 1 },
  { key: 'temperature', label: 'Temperature', hint: '0 always picks the likeliest token (the same answer every time); higher is more varied.', min: 0, max: 2, step: 0.1 },
  { key: 'topP', label: 'Top-p', hint: 'Samples only from the likeliest tokens that together hold this much probability.', min: 0, max: 1, step: 0.05 },
  { key: 'seed', label: 'Seed', hint: 'The same seed and settings give the same answer; both panes use it.', min: 0, step: 1 },
];

/** Decoding settings shared by both panes, so the only difference between them is the adapter. */
export function GenerationSettings({ settings, disabled }: { settings: PlaygroundSettings; disabled: boolean }) {
  const update = useStudio((state) => state.updatePlayground);
  return (
    <div className="generation-settings">
      {FIELDS.map((field) => (
        <Field key={field.key} label={field.label} hint={field.hint}>
          {(props) => (
            <NumberInput
              {...props}
              min={field.min}
              {...(field.max !== undefined ? { max: field.max } : {})}
              step={field.step}
              disabled={disabled}
              value={settings[field.key]}
              onValue={(value) => {
                if (value !== undefined && Number.isFinite(value)) update({ [field.key]: value });
              }}
            />
          )}
        </Field>
      ))}
    </div>
  );
}
