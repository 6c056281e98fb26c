import { useId } from 'react';
import type { ChatMessage, ChatRole, PlaygroundSettings } from '../../state/slices/playground.ts';
import { useStudio } from '../../state/store.ts';
import { Field } from '../components/Field.tsx';

const ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/**
 * What the model is given: a plain prompt it continues, or a conversation of messages with roles,
 * rendered with the model's chat template (or, for a model without one, the template a "messages"
 * task is trained with).
 */
export function PromptInput({ settings, disabled }: { settings: PlaygroundSettings; disabled: boolean }) {
  const update = useStudio((state) => state.updatePlayground);
  const modeName = useId();
  return (
    <div className="playground-prompt">
      <fieldset className="mode-choice">
        <legend>Mode</legend>
        {(['prompt', 'chat'] as const).map((mode) => (
          <label key={mode}>
            <input type="radio" name={modeName} value={mode} checked={settings.mode === mode} disabled={disabled} onChange={() => update({ mode })} /> {mode === 'prompt' ? 'Prompt' : 'Chat'}
          </label>
        ))}
      </fieldset>
      {settings.mode === 'prompt' ? (
        <Field label="Prompt" hint="The model continues this text. Leave it empty to let the model start from nothing.">
          {(props) => <textarea {...props} rows={4} value={settings.prompt} disabled={disabled} onChange={(event) => update({ prompt: event.target.value })} />}
        </Field>
      ) : (
        <ChatMessages messages={settings.messages} disabled={disabled} onChange={(messages) => update({ messages })} />
      )}
    </div>
  );
}

function ChatMessages({ messages, disabled, onChange }: { messages: ChatMessage[]; disabled: boolean; onChange(messages: ChatMessage[]): void }) {
  const change = (index: number, message: ChatMessage) => onChange(messages.map((m, i) => (i === index ? message : m)));
  const nextRole: ChatRole = messages.at(-1)?.role === 'user' ? 'assistant' : 'user';
  return (
    <div className="chat-messages">
      <p className="muted">The conversation so far; the models answer as the assistant after the last message.</p>
      <ol>
        {messages.map((message, index) => (
          <li key={index} className={`chat-message role-${message.role}`}>
            <Field label={`Role of message ${index + 1}`}>
              {(props) => (
                <select {...props} value={message.role} disabled={disabled} onChange={(event) => change(index, { ...message, role: event.target.value as ChatRole })}>
                  {ROLES.map((role) => (
                    <option key={role} value={role}>
                      {role}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={`Message ${index + 1}`}>
              {(props) => <textarea {...props} rows={2} value={message.content} disabled={disabled} onChange={(event) => change(index, { ...message, content: event.target.value })} />}
            </Field>
            <button type="button" className="secondary" disabled={disabled || messages.length === 1} onClick={() => onChange(messages.filter((_, i) => i !== index))}>
              Remove message {index + 1}
            </button>
          </li>
        ))}
      </ol>
      <button type="button" className="secondary" disabled={disabled} onClick={() => onChange([...messages, { role: nextRole, content: '' }])}>
        Add message
      </button>
    </div>
  );
}
