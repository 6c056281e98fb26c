import type { StateCreator } from 'zustand';
import type { AppState } from '../store.ts';

/** Placeholder: the Library page's state is written next. */
export type LibrarySlice = Record<never, never>;

export const createLibrarySlice: StateCreator<AppState, [], [], LibrarySlice> = () => ({});
