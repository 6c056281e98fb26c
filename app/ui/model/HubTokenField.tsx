import { HUB_TOKEN_KEY } from '../../state/slices/model.ts';
import { useStudio } from '../../state/store.ts';
import { Field } from '../components/Field.tsx';

/**
 * The user's Hub access token, for gated repositories (Llama 3.2 after its licence is accepted) and
 * private ones. It lasts for the visit unless the user asks this browser to remember it.
 */
export function HubTokenField() {
  const token = useStudio((state) => state.hubToken);
  const remember = useStudio((state) => state.hubTokenRemembered);
  const save = (value: string, keep: boolean) => useStudio.getState().setHubToken(value, keep);
  return (
    <div className="model-endpoint">
      <Field
        label="Access token"
        hint={
          <>
            Only for gated or private repositories, such as meta-llama/Llama-3.2-1B-Instruct once its licence is accepted on the Hub: a read token from{' '}
            <a href="https://huggingface.co/settings/tokens" target="_blank" rel="noreferrer">
              huggingface.co/settings/tokens
            </a>
            . It is sent with downloads to the endpoint above, nowhere else.
          </>
        }
      >
        {(props) => <input {...props} type="password" autoComplete="off" spellCheck={false} value={token} placeholder="hf_…" onChange={(event) => save(event.target.value, remember)} />}
      </Field>
      <label className="confirm-option">
        <input
          type="checkbox"
          checked={remember}
          onChange={(event) => save(token, event.target.checked)}
        />{' '}
        Remember it in this browser
      </label>
      <small className="muted field-hint" data-testid="hub-token-storage">
        {remember
          ? `Remembered in this browser's localStorage for this site, under "${HUB_TOKEN_KEY}", until you forget it.`
          : 'Kept in this tab only; it is gone when the page closes or reloads.'}
      </small>
      {token && (
        <button type="button" className="secondary" onClick={() => save('', false)}>
          Forget the token
        </button>
      )}
    </div>
  );
}
