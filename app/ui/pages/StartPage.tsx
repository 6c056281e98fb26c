import { useEffect } from 'react';
import { useStudio } from '../../state/store.ts';
import { GpuPanel } from '../GpuPanel.tsx';
import { GuidedStart } from '../model/GuidedStart.tsx';
import { SelfTestPanel } from '../SelfTestPanel.tsx';
import { StoragePanel } from '../StoragePanel.tsx';
import { WebGpuUnavailable } from '../WebGpuUnavailable.tsx';

/** The first page: how to begin (on a first visit), this GPU, the kernel self-test, and the browser storage the studio uses. */
export function StartPage() {
  const gpuStatus = useStudio((state) => state.gpu.status);
  const modelStatus = useStudio((state) => state.model.status);
  const hasModel = useStudio((state) => state.model.summary !== undefined);
  // A visitor with a model loaded or on its way knows the way; while storage is checked, show nothing rather than flash the panel.
  const firstVisit = !hasModel && (modelStatus === 'idle' || modelStatus === 'failed' || modelStatus === 'cancelled');

  useEffect(() => {
    void useStudio.getState().restoreModel();
  }, []);

  return (
    <>
      {firstVisit && <GuidedStart />}
      {gpuStatus === 'unavailable' ? (
        <WebGpuUnavailable />
      ) : (
        <>
          <GpuPanel />
          <SelfTestPanel />
        </>
      )}
      <StoragePanel />
    </>
  );
}
