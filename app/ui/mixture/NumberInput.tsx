import { useState, type InputHTMLAttributes } from 'react';

/**
 * A number box bound to a recipe value that may be unset. While the user types, the text is kept as
 * typed ("0." or "" would otherwise be rewritten under their cursor); the recipe gets every number
 * the text makes, or undefined for an empty box, so its problems show as soon as they exist.
 */
export function NumberInput({
  value,
  onValue,
  ...props
}: { value: number | undefined; onValue(value: number | undefined): void } & Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange' | 'type'>) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      {...props}
      type="number"
      value={draft ?? (value === undefined ? '' : String(value))}
      onChange={(event) => {
        const text = event.target.value;
        setDraft(text);
        onValue(text.trim() === '' ? undefined : Number(text));
      }}
      onBlur={(event) => {
        setDraft(null);
        props.onBlur?.(event);
      }}
    />
  );
}
