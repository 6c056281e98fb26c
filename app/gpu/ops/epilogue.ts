import type { GpuContext } from '../device.ts';
import type { GpuTensor } from '../tensor.ts';
import { dropoutPrelude, epiloguePrelude, type EpilogueKind } from '../wgsl.ts';
import { packUniforms, type BindingResource } from './encode.ts';

/**
 * What a matrix product adds to each output before storing it, on either family's core (the epilogue
 * preludes of app/gpu/wgsl.ts), with the tensors it reads. lora_linear fuses its bias and LoRA terms
 * into the frozen product this way, so X·Wᵀ and dY·W run on the cores every product runs on.
 */
export type Epilogue =
  /** A projection's forward: + bias[c] + s·U[r, :]·B[c, :]ᵀ (either part may be absent). */
  | { kind: 'linear'; bias?: GpuTensor; lora?: { u: GpuTensor; b: GpuTensor; scale: number } }
  /** The LoRA branch of a projection's dX: + s·mask(r, c)·(G·A)[r, c]. */
  | { kind: 'lora_dx'; g: GpuTensor; a: GpuTensor; scale: number; dropout?: EpilogueDropout };

/** The mask of one layer: its parameters, and the uniform that holds the micro-batch's seed and step (dropoutPrelude). */
export interface EpilogueDropout {
  threshold: number;
  keepScale: number;
  offset: number;
  stepUniform: GPUBuffer;
}

/** Binding of the epilogue's parameter uniform, and of dropoutPrelude's seed-and-step uniform. */
const PARAMS_BINDING = 5;
const DROPOUT_STEP_BINDING = 6;

function kindOf(epilogue: Epilogue | undefined): EpilogueKind {
  if (!epilogue) return { kind: 'none' };
  if (epilogue.kind === 'linear') return { kind: 'linear', bias: epilogue.bias !== undefined, lora: epilogue.lora !== undefined };
  return { kind: 'lora_dx', dropout: epilogue.dropout !== undefined };
}

/** The preludes an epilogue puts in front of a core, and the bindings it adds to the product's. */
export function epilogueParts(ctx: GpuContext, epilogue: Epilogue | undefined): { preludes: { key: string; code: string }[]; entries: [number, BindingResource][] } {
  const kind = kindOf(epilogue);
  const preludes = [epiloguePrelude(kind), ...(kind.kind === 'lora_dx' && kind.dropout ? [dropoutPrelude()] : [])];
  if (!epilogue) return { preludes, entries: [] };
  const lora = epilogue.kind === 'linear' ? epilogue.lora : epilogue;
  const dropout = epilogue.kind === 'lora_dx' ? epilogue.dropout : undefined;
  // A bias alone reads no parameter, and a binding the shader does not use is not in its layout.
  const entries: [number, BindingResource][] = [];
  if (lora) {
    const R = epilogue.kind === 'linear' ? epilogue.lora!.u.shape[1]! : epilogue.g.shape[1]!;
    const params = packUniforms([
      ['f32', lora.scale],
      ['u32', R],
      ['u32', dropout?.offset ?? 0],
      ['u32', dropout?.threshold ?? 0],
      ['f32', dropout?.keepScale ?? 1],
    ]);
    entries.push([PARAMS_BINDING, ctx.uniforms.get('epilogue:params', params)]);
  }
  if (epilogue.kind === 'linear') {
    if (epilogue.bias) entries.push([7, epilogue.bias]);
    if (epilogue.lora) entries.push([8, epilogue.lora.u], [9, epilogue.lora.b]);
  } else {
    entries.push([10, epilogue.g], [11, epilogue.a]);
    if (epilogue.dropout) entries.push([DROPOUT_STEP_BINDING, epilogue.dropout.stepUniform]);
  }
  return { preludes, entries };
}
