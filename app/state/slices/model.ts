import type { StateCreator } from 'zustand';
import type { AppState } from '../store.ts';

/** Placeholder: the Model page's state is written next. */
export type ModelSlice = Record<never, never>;

export const createModelSlice: StateCreator<AppState, [], [], ModelSlice> = () => ({});
