import { Field } from '../components/Field.tsx';
import { MAX_SMOOTHING } from './smoothing.ts';

/** TensorBoard's default: enough to read the trend of a noisy per-step loss without hiding it. */
export const DEFAULT_SMOOTHING = 0.6;

/** The EMA weight of the per-step loss chart, 0 (raw) to MAX_SMOOTHING. */
export function SmoothingControl({ value, onChange }: { value: number; onChange(value: number): void }) {
  return (
    <Field label="Smoothing" hint={`Exponential moving average of the per-step loss, as TensorBoard draws it: 0 shows every step as it was, ${MAX_SMOOTHING} only the trend.`}>
      {(props) => (
        <span className="smoothing-control">
          <input {...props} type="range" min={0} max={MAX_SMOOTHING} step={0.01} value={value} onChange={(event) => onChange(Number(event.target.value))} />
          <output htmlFor={props.id}>{value.toFixed(2)}</output>
        </span>
      )}
    </Field>
  );
}
