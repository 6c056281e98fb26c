import { useStudio } from '../state/store.ts';

/** The cause in one line; the list below says what to do, so the error's own advice is not repeated. */
const CAUSES: Record<string, string> = {
  NO_WEBGPU: 'This browser has no WebGPU, or it is switched off.',
  NO_ADAPTER: 'The browser has WebGPU but offered no GPU adapter: the GPU may be blocklisted or hardware acceleration off.',
  DEVICE_REQUEST_FAILED: 'The GPU adapter refused to create a device.',
};

/** Shown instead of a blank page when this browser offers no WebGPU: what happened and what to do. */
export function WebGpuUnavailable() {
  const error = useStudio((state) => state.gpu.error);
  return (
    <section className="panel" aria-labelledby="no-webgpu-title" role="alert">
      <h2 id="no-webgpu-title">WebGPU is not available</h2>
      <p>Cocktail Studio trains on your GPU through WebGPU, and this browser did not offer it.</p>
      <p className="muted">{(error && CAUSES[error.code]) ?? error?.message}</p>
      <ul>
        <li>Use Chrome or Edge 113 or later on Windows, macOS or ChromeOS, Safari 26 or later, or Firefox 141 or later on Windows.</li>
        <li>
          On Linux, start Chrome or Chromium with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>, or turn on{' '}
          <code>chrome://flags/#enable-unsafe-webgpu</code>.
        </li>
        <li>Check that hardware acceleration is on in the browser settings, then reload.</li>
      </ul>
      <button type="button" onClick={() => void useStudio.getState().loadGpuInfo()}>
        Try again
      </button>
    </section>
  );
}
