import type { StateCreator } from 'zustand';
import { applyRecipeChange, DEFAULT_TERM_LIST, parseTermList, type AuditProgress, type AuditReport, type RecipeChange } from '../../audit/index.ts';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/**
 * The data audit of the studio's recipe (app/audit through the worker's audit.run): shown per task on
 * the Tasks page and across tasks on the Mixture page. The report is the worker's summary (counts and a
 * few examples each), not the data. The edited term list of the bias probes is kept in localStorage.
 */
export interface AuditState {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  progress?: AuditProgress;
  report?: AuditReport;
  error?: ErrorReport;
  /** The bias probes' term list, as the user edited it. */
  terms: string;
  /** Where the edited term list does not parse (its line is in the message); the audit waits until it does. */
  termsError?: ErrorReport;
}

export interface AuditSlice {
  audit: AuditState;
  runAudit(): Promise<void>;
  cancelAudit(): void;
  setAuditTerms(terms: string): void;
  /** Applies a finding's suggested recipe change; the audit is then out of date until run again. */
  applyAuditChange(change: RecipeChange): void;
}

export const AUDIT_TERMS_KEY = 'cocktail.audit-terms.v1';

function storedTerms(): string {
  try {
    return globalThis.localStorage?.getItem(AUDIT_TERMS_KEY) ?? DEFAULT_TERM_LIST;
  } catch {
    return DEFAULT_TERM_LIST;
  }
}

function termsProblem(terms: string): ErrorReport | undefined {
  try {
    parseTermList(terms, 'the term list');
    return undefined;
  } catch (error) {
    return toErrorReport(error);
  }
}

export const createAuditSlice: StateCreator<AppState, [], [], AuditSlice> = (set, get) => {
  let abort: AbortController | undefined;
  const update = (change: Partial<AuditState>) => set((state) => ({ audit: { ...state.audit, ...change } }));
  const terms = storedTerms();
  const termsError = termsProblem(terms);
  return {
    audit: { status: 'idle', terms, ...(termsError ? { termsError } : {}) },
    async runAudit() {
      const { audit, recipe } = get();
      if (audit.status === 'running' || audit.termsError) return;
      const controller = new AbortController();
      abort = controller;
      update({ status: 'running', progress: undefined, error: undefined });
      try {
        const report = await get()
          .engine()
          .request('audit.run', { recipe, terms: audit.terms, ...hubSettingsOf(get()) }, { signal: controller.signal, onProgress: (progress) => update({ progress }) });
        update({ status: 'done', report, progress: undefined });
      } catch (error) {
        update({ status: controller.signal.aborted ? 'cancelled' : 'failed', progress: undefined, ...(controller.signal.aborted ? {} : { error: toErrorReport(error) }) });
      }
    },
    cancelAudit() {
      abort?.abort();
    },
    setAuditTerms(text) {
      try {
        globalThis.localStorage?.setItem(AUDIT_TERMS_KEY, text);
      } catch {
        // Not kept across visits when the browser refuses storage; the audit still uses it now.
      }
      const problem = termsProblem(text);
      set((state) => {
        const { termsError: _old, ...rest } = state.audit;
        return { audit: { ...rest, terms: text, ...(problem ? { termsError: problem } : {}) } };
      });
    },
    applyAuditChange(change) {
      get().updateRecipe((recipe) => applyRecipeChange(recipe, change));
    },
  };
};
