import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import type { GpuInfo } from '../../gpu/device.ts';
import type { SelfTestProgress, SelfTestReport } from '../../gpu/selftest.ts';
import type { AppState } from '../store.ts';

export type GpuStatus = 'idle' | 'loading' | 'ready' | 'unavailable' | 'lost';
export type SelfTestStatus = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

export interface GpuSlice {
  gpu: { status: GpuStatus; info?: GpuInfo; error?: ErrorReport };
  selfTest: { status: SelfTestStatus; progress?: SelfTestProgress; report?: SelfTestReport; error?: ErrorReport };
  loadGpuInfo(): Promise<void>;
  runSelfTest(): Promise<void>;
  cancelSelfTest(): void;
  /** Called by the bridge listener when the worker reports a lost device. */
  markDeviceLost(error: ErrorReport): void;
}

/** Codes that mean "this browser or machine has no usable WebGPU", as opposed to a passing failure. */
const UNAVAILABLE_CODES = new Set(['NO_WEBGPU', 'NO_ADAPTER', 'DEVICE_REQUEST_FAILED']);

export const createGpuSlice: StateCreator<AppState, [], [], GpuSlice> = (set, get) => {
  let selfTestAbort: AbortController | undefined;
  return {
    gpu: { status: 'idle' },
    selfTest: { status: 'idle' },

    async loadGpuInfo() {
      set({ gpu: { status: 'loading' } });
      try {
        const info = await get().engine().request('gpu.info', {});
        set({ gpu: { status: 'ready', info } });
      } catch (error) {
        const report = toErrorReport(error);
        set({ gpu: { status: UNAVAILABLE_CODES.has(report.code) ? 'unavailable' : 'lost', error: report } });
      }
    },

    async runSelfTest() {
      selfTestAbort?.abort();
      const abort = (selfTestAbort = new AbortController());
      set({ selfTest: { status: 'running' } });
      try {
        const report = await get().engine().request('gpu.selftest', {}, {
          signal: abort.signal,
          onProgress: (progress) => set((state) => ({ selfTest: { ...state.selfTest, progress } })),
        });
        set({ selfTest: { status: 'done', report } });
      } catch (error) {
        const report = toErrorReport(error);
        set({ selfTest: { status: report.code === 'CANCELLED' ? 'cancelled' : 'failed', error: report } });
      }
    },

    cancelSelfTest() {
      selfTestAbort?.abort();
    },

    markDeviceLost(error) {
      set({ gpu: { status: 'lost', error } });
    },
  };
};
