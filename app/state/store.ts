/**
 * The studio's one zustand store, built from slices (zustand docs: "slices pattern"). Actions are
 * plain functions on the state, callable outside React. No tensors or large arrays live here: the
 * engine worker holds those and the store keeps summaries.
 */
import { create } from 'zustand';
import { toErrorReport, type ErrorReport } from '../errors.ts';
import type { EngineBridge } from './bridge.ts';
import { startEngine } from './engine.ts';
import { createAuditSlice, type AuditSlice } from './slices/audit.ts';
import { createEvaluateSlice, type EvaluateSlice } from './slices/evaluate.ts';
import { createExperimentSlice, type ExperimentSlice } from './slices/experiment.ts';
import { createGpuSlice, type GpuSlice } from './slices/gpu.ts';
import { createLibrarySlice, type LibrarySlice } from './slices/library.ts';
import { createModelSlice, type ModelSlice } from './slices/model.ts';
import { createPlaygroundSlice, type PlaygroundSlice } from './slices/playground.ts';
import { createRecipeSlice, type RecipeSlice } from './slices/recipe.ts';
import { createRouterSlice, type RouterSlice } from './slices/router.ts';
import { createStorageSlice, type StorageSlice } from './slices/storage.ts';
import { createTasksSlice, type TasksSlice } from './slices/tasks.ts';
import { createTrainSlice, type TrainSlice } from './slices/train.ts';

export interface EngineSlice {
  engineStatus: { status: 'ready' | 'dead'; error?: ErrorReport; strayErrors: ErrorReport[] };
  /** The bridge to the engine worker, started on first use. */
  engine(): EngineBridge;
}

export type AppState = EngineSlice & GpuSlice & StorageSlice & RecipeSlice & ModelSlice & TasksSlice & TrainSlice & EvaluateSlice & PlaygroundSlice & LibrarySlice & AuditSlice & ExperimentSlice & RouterSlice;

export const useStudio = create<AppState>()((...args) => {
  const [set, get] = args;
  let bridge: EngineBridge | undefined;
  return {
    engineStatus: { status: 'ready', strayErrors: [] },
    engine() {
      bridge ??= startEngine({
        onDead: (error) => set((state) => ({ engineStatus: { ...state.engineStatus, status: 'dead', error: toErrorReport(error) } })),
        onDeviceLost: (error) => get().markDeviceLost(toErrorReport(error)),
        onStrayError: (error) =>
          set((state) => ({ engineStatus: { ...state.engineStatus, strayErrors: [...state.engineStatus.strayErrors, toErrorReport(error)].slice(-20) } })),
        // A GPU error outside every error scope belongs to no request: it shows with the engine's other stray errors.
        onGpuError: (error) =>
          set((state) => ({ engineStatus: { ...state.engineStatus, strayErrors: [...state.engineStatus.strayErrors, toErrorReport(error)].slice(-20) } })),
        onSchemaStatus: (status) => set((state) => ({ storage: { ...state.storage, schema: { ...state.storage.schema, engine: status } } })),
      });
      return bridge;
    },
    ...createGpuSlice(...args),
    ...createStorageSlice(...args),
    ...createRecipeSlice(...args),
    ...createModelSlice(...args),
    ...createTasksSlice(...args),
    ...createTrainSlice(...args),
    ...createEvaluateSlice(...args),
    ...createPlaygroundSlice(...args),
    ...createLibrarySlice(...args),
    ...createAuditSlice(...args),
    ...createExperimentSlice(...args),
    ...createRouterSlice(...args),
  };
});
