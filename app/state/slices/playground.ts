import type { StateCreator } from 'zustand';
import type { AppState } from '../store.ts';

/** Placeholder: the Playground page's state is written next. */
export type PlaygroundSlice = Record<never, never>;

export const createPlaygroundSlice: StateCreator<AppState, [], [], PlaygroundSlice> = () => ({});
