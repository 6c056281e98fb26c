import { useStudio } from '../../state/store.ts';
import { GpuPanel } from '../GpuPanel.tsx';
import { SelfTestPanel } from '../SelfTestPanel.tsx';
import { StoragePanel } from '../StoragePanel.tsx';
import { WebGpuUnavailable } from '../WebGpuUnavailable.tsx';

/** The first page: this GPU, the kernel self-test, and the browser storage the studio uses. */
export function StartPage() {
  const gpuStatus = useStudio((state) => state.gpu.status);
  return (
    <>
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
