import { useState } from 'react';
import { DEFAULT_HUB_ENDPOINT } from '../../model/hub.ts';
import { useStudio } from '../../state/store.ts';
import { Field } from '../components/Field.tsx';

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text.trim());
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Where models and task files download from: the Hub, a mirror, or a local server in its layout. */
export function HubEndpointField() {
  const endpoint = useStudio((state) => state.hubEndpoint);
  const [text, setText] = useState(endpoint);
  const valid = isHttpUrl(text);
  return (
    <div className="model-endpoint">
      <Field
        label="Hub endpoint"
        hint={
          valid ? (
            <>
              Models and Hub data sets download from here. The default is {DEFAULT_HUB_ENDPOINT}; a mirror or a local server in the Hub’s URL layout works too.
            </>
          ) : (
            'Enter an address starting with http:// or https://; downloads keep using the last valid one.'
          )
        }
      >
        {(props) => (
          <input
            {...props}
            type="url"
            value={text}
            aria-invalid={!valid}
            spellCheck={false}
            onChange={(event) => {
              setText(event.target.value);
              if (isHttpUrl(event.target.value)) useStudio.getState().setHubEndpoint(event.target.value);
            }}
          />
        )}
      </Field>
      {endpoint !== DEFAULT_HUB_ENDPOINT && (
        <button
          type="button"
          className="secondary"
          onClick={() => {
            useStudio.getState().setHubEndpoint(DEFAULT_HUB_ENDPOINT);
            setText(DEFAULT_HUB_ENDPOINT);
          }}
        >
          Use huggingface.co
        </button>
      )}
    </div>
  );
}
