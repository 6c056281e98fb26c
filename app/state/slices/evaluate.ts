import type { StateCreator } from 'zustand';
import type { AppState } from '../store.ts';

/** Placeholder: the Evaluate page's state is written next. */
export type EvaluateSlice = Record<never, never>;

export const createEvaluateSlice: StateCreator<AppState, [], [], EvaluateSlice> = () => ({});
