import { useEffect } from 'react';
import { useStudio } from '../state/store.ts';
import { GpuPanel } from './GpuPanel.tsx';
import { SelfTestPanel } from './SelfTestPanel.tsx';
import { StoragePanel } from './StoragePanel.tsx';
import { WebGpuUnavailable } from './WebGpuUnavailable.tsx';

export function App() {
  const gpuStatus = useStudio((state) => state.gpu.status);
  const engine = useStudio((state) => state.engineStatus);

  useEffect(() => {
    void useStudio.getState().loadGpuInfo();
    void useStudio.getState().refreshStorage();
  }, []);

  return (
    <div className="app">
      <header className="app-header">
        <h1>
          <img src="/favicon.svg" alt="" width={28} height={28} /> Cocktail Studio
        </h1>
        <p className="tagline">Multi-task LoRA fine-tuning in your browser, on your own GPU.</p>
      </header>
      <main>
        {engine.status === 'dead' && (
          <div role="alert" className="banner error">
            {engine.error?.message}
          </div>
        )}
        {gpuStatus === 'unavailable' ? (
          <WebGpuUnavailable />
        ) : (
          <>
            <GpuPanel />
            <SelfTestPanel />
          </>
        )}
        <StoragePanel />
      </main>
    </div>
  );
}
