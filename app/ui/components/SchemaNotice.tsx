import { useStudio } from '../../state/store.ts';
import { SCHEMA_REPLACED_MESSAGE, SCHEMA_WAITING_MESSAGE } from '../../store/idb.ts';

/** Says when another tab runs a different version of the studio's storage schema (app/store/idb.ts). */
export function SchemaNotice() {
  const { page, engine } = useStudio((state) => state.storage.schema);
  if (page.replaced || engine.replaced) {
    return (
      <p className="banner warn" role="alert" data-testid="schema-notice">
        {SCHEMA_REPLACED_MESSAGE} <button onClick={() => location.reload()}>Reload</button>
      </p>
    );
  }
  if (page.waitingForOlderTab || engine.waitingForOlderTab) {
    return (
      <p className="banner warn" role="status" data-testid="schema-notice">
        {SCHEMA_WAITING_MESSAGE}
      </p>
    );
  }
  return null;
}
