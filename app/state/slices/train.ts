import type { StateCreator } from 'zustand';
import type { AppState } from '../store.ts';

/** Placeholder: the Train page's state is written next. */
export type TrainSlice = Record<never, never>;

export const createTrainSlice: StateCreator<AppState, [], [], TrainSlice> = () => ({});
