import type { StateCreator } from 'zustand';
import { toErrorReport, type ErrorReport } from '../../errors.ts';
import type { RoutedPrompt } from '../../route/router.ts';
import type { CommandType, GenerateRequest, GenerateResponse } from '../../../workers/protocol.ts';
import { createFrameBatcher } from '../frame-batcher.ts';
import type { AppState } from '../store.ts';
import { hubSettingsOf } from './model.ts';

/**
 * The Playground: one prompt (or chat) sent to the recipe's model twice, without and with an adapter,
 * so the two answers can be read side by side. There is one GPU, so the panes generate one after the
 * other; each streams its text as the worker decodes it (batched per animation frame), and Stop
 * cancels the generation in flight and the one still waiting. The settings survive a reload.
 */
export type PaneId = 'base' | 'adapter' | 'routed';
export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface PlaygroundSettings {
  mode: 'prompt' | 'chat';
  prompt: string;
  messages: ChatMessage[];
  maxNewTokens: number;
  /** 0 is greedy decoding. */
  temperature: number;
  topP: number;
  seed: number;
  /** The adapter the user chose; undefined: the page's default (the latest run's). */
  adapterKey?: string;
  /** The left pane's adapter, to compare two adapters; undefined or '': the base model. */
  compareAdapterKey?: string;
  /** The router of the "routed" column (a key of the "routers" store); undefined or '': no routed column. */
  routerKey?: string;
}

export interface PaneState {
  status: 'idle' | 'waiting' | 'generating' | 'done' | 'stopped' | 'failed';
  text: string;
  tokens: number;
  /** While generating: measured here; when done: the worker's figure for the decode. */
  tokensPerSecond?: number;
  stopReason?: GenerateResponse['stopReason'];
  /** The adapter this pane's text came from. */
  adapterKey?: string;
  /** How a chat prompt was rendered (GenerateResponse.chatRendering). */
  chatRendering?: GenerateResponse['chatRendering'];
  /** The GPU job the request waits behind (training, say) before it can load the model. */
  waitingBehind?: CommandType;
  /** The routed column: the router's probabilities for the prompt and who answered. */
  routing?: RoutedPrompt;
  error?: ErrorReport;
}

export interface PlaygroundState {
  settings: PlaygroundSettings;
  panes: Record<PaneId, PaneState>;
  running: boolean;
}

export interface PlaygroundSlice {
  playground: PlaygroundState;
  updatePlayground(change: Partial<PlaygroundSettings>): void;
  /**
   * Generates in both panes: the right one with `adapterKey` (none: it stays empty), the left one with
   * `compareKey`, or the base model when there is none; then, with `routerKey`, the routed column with
   * the expert that router chooses for the prompt.
   */
  generateInPlayground(adapterKey: string | undefined, compareKey?: string, routerKey?: string): Promise<void>;
  stopPlayground(): void;
}

export const PLAYGROUND_STORAGE_KEY = 'cocktail.playground.v1';

export const DEFAULT_PLAYGROUND_SETTINGS: PlaygroundSettings = {
  mode: 'prompt',
  prompt: '',
  messages: [{ role: 'user', content: '' }],
  maxNewTokens: 64,
  temperature: 0.7,
  topP: 0.9,
  seed: 1,
};

const IDLE_PANE: PaneState = { status: 'idle', text: '', tokens: 0 };

function loadSettings(): PlaygroundSettings {
  try {
    const saved = globalThis.localStorage?.getItem(PLAYGROUND_STORAGE_KEY);
    if (saved) return { ...DEFAULT_PLAYGROUND_SETTINGS, ...(JSON.parse(saved) as Partial<PlaygroundSettings>) };
  } catch {
    // Damaged or unavailable: the defaults do.
  }
  return DEFAULT_PLAYGROUND_SETTINGS;
}

function saveSettings(settings: PlaygroundSettings): void {
  try {
    globalThis.localStorage?.setItem(PLAYGROUND_STORAGE_KEY, JSON.stringify(settings));
  } catch {
    // Storage full or disabled: the settings last for this visit.
  }
}

export const createPlaygroundSlice: StateCreator<AppState, [], [], PlaygroundSlice> = (set, get) => {
  let abort: AbortController | undefined;
  const setPane = (pane: PaneId, change: (current: PaneState) => PaneState) =>
    set((state) => ({ playground: { ...state.playground, panes: { ...state.playground.panes, [pane]: change(state.playground.panes[pane]) } } }));

  const generate = async (pane: PaneId, request: GenerateRequest, signal: AbortSignal, routerKey?: string) => {
    setPane(pane, () => ({ status: 'generating', text: '', tokens: 0, ...(request.adapterKey ? { adapterKey: request.adapterKey } : {}) }));
    // The rate counts from the first token, so loading the model and reading the prompt do not drag it down.
    let firstTokenAt: number | undefined;
    const stream = createFrameBatcher<string>((pieces) =>
      setPane(pane, (current) => {
        const now = performance.now();
        firstTokenAt ??= now;
        const tokens = current.tokens + pieces.length;
        const seconds = (now - firstTokenAt) / 1000;
        return { ...current, text: current.text + pieces.join(''), tokens, ...(seconds > 0 ? { tokensPerSecond: (tokens - 1) / seconds } : {}) };
      }),
    );
    try {
      const onQueued = (behind: CommandType | null) => setPane(pane, ({ waitingBehind: _waited, ...current }) => (behind ? { ...current, waitingBehind: behind } : current));
      const result = routerKey
        ? await get()
            .engine()
            .request('router.generate', { ...request, routerKey }, {
              signal,
              onProgress: (progress) => (progress.kind === 'routed' ? setPane(pane, (current) => ({ ...current, routing: progress.routing })) : stream.push(progress.text)),
              onQueued,
            })
        : await get().engine().request('model.generate', request, { signal, onProgress: (progress) => stream.push(progress.text), onQueued });
      stream.flush();
      setPane(pane, ({ waitingBehind: _waited, ...current }) => ({
        ...current,
        status: 'done',
        text: result.text,
        tokens: result.ids.length,
        tokensPerSecond: result.tokensPerSecond,
        stopReason: result.stopReason,
        ...(result.chatRendering ? { chatRendering: result.chatRendering } : {}),
      }));
    } catch (error) {
      stream.flush();
      const report = toErrorReport(error);
      const stopped = signal.aborted || report.code === 'CANCELLED';
      setPane(pane, ({ waitingBehind: _waited, ...current }) => ({ ...current, status: stopped ? 'stopped' : 'failed', ...(stopped ? {} : { error: report }) }));
    } finally {
      stream.dispose();
    }
  };

  return {
    playground: { settings: loadSettings(), panes: { base: IDLE_PANE, adapter: IDLE_PANE, routed: IDLE_PANE }, running: false },

    updatePlayground(change) {
      const settings = { ...get().playground.settings, ...change };
      saveSettings(settings);
      set((state) => ({ playground: { ...state.playground, settings } }));
    },

    async generateInPlayground(adapterKey, compareKey, routerKey) {
      if (get().playground.running) return;
      const controller = new AbortController();
      abort = controller;
      const { settings } = get().playground;
      const { model } = get().recipe;
      const request: GenerateRequest = {
        source: model.source,
        revision: model.revision,
        ...hubSettingsOf(get()),
        prompt: settings.mode === 'chat' ? settings.messages.filter((m) => m.content.trim() !== '') : settings.prompt,
        maxNewTokens: settings.maxNewTokens,
        temperature: settings.temperature,
        topP: settings.topP,
        seed: settings.seed,
      };
      set((state) => ({
        playground: {
          ...state.playground,
          running: true,
          panes: {
            base: { ...IDLE_PANE, status: 'waiting', ...(compareKey ? { adapterKey: compareKey } : {}) },
            adapter: adapterKey ? { ...IDLE_PANE, status: 'waiting', adapterKey } : IDLE_PANE,
            routed: routerKey ? { ...IDLE_PANE, status: 'waiting' } : IDLE_PANE,
          },
        },
      }));
      try {
        await generate('base', compareKey ? { ...request, adapterKey: compareKey } : request, controller.signal);
        for (const [pane, wanted] of [['adapter', adapterKey], ['routed', routerKey]] as const) {
          if (!wanted) continue;
          if (controller.signal.aborted) setPane(pane, (current) => ({ ...current, status: 'stopped' }));
          else await generate(pane, pane === 'adapter' ? { ...request, adapterKey: wanted } : request, controller.signal, pane === 'routed' ? wanted : undefined);
        }
      } finally {
        if (abort === controller) abort = undefined;
        set((state) => ({ playground: { ...state.playground, running: false } }));
      }
    },

    stopPlayground() {
      abort?.abort();
    },
  };
};
