import type { StateCreator } from 'zustand';
import type { AppState } from '../store.ts';

/** Placeholder: the Tasks page's state is written next. */
export type TasksSlice = Record<never, never>;

export const createTasksSlice: StateCreator<AppState, [], [], TasksSlice> = () => ({});
